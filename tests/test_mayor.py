"""Mayor mode end to end: scenario files, the task board, employment and wages, through the real
server and mayor.py's main coroutine, on the scripted model (deterministic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mayor
from agent.interfaces import Action
from server.app import Running, run_town
from server.client import CommandError, TownClient
from server.errors import ActionRefused
from server.world import rules
from tests.conftest import ADMIN, make_settings

ROOT = Path(__file__).resolve().parent.parent


async def run_scenario(
    town: Running, scenario: Path | str, tmp_path: Path, *extra: str
) -> tuple[int, dict[str, Any]]:
    rc = await mayor.drive(
        mayor.parse_args(
            [
                str(scenario),
                "--url",
                town.ws_url,
                "--token",
                ADMIN,
                "--report-dir",
                str(tmp_path),
                "--quiet",
                *extra,
            ]
        )
    )
    return rc, _read_report(Path(scenario), tmp_path)


def _read_report(scenario: Path, report_dir: Path) -> dict[str, Any]:
    name = json.loads(scenario.read_text())["name"] if scenario.exists() else "-"
    path = report_dir / f"{name}.report.json"
    return json.loads(path.read_text()) if path.exists() else {}


async def test_dessert_shop_hiring_scenario_completes(town: Running, tmp_path: Path) -> None:
    w = town.services.world
    mayor_cash = w.agents["david-okafor"].cash
    rc, rep = await run_scenario(town, ROOT / "scenarios/dessert_shop_hiring.json", tmp_path)
    assert rc == 0
    (task,) = rep["tasks"]
    assert task["status"] == "completed" and 0 < task["completed_tick"] < 300
    assert len(task["credited"]) == 2
    jobs = {r["agent_id"]: r for r in await w.repo.rows("jobs", order="agent_id")}
    assert {jobs[a]["title"] for a in task["credited"]} == {"cook"}
    assert all(jobs[a]["building_id"] == "dessert-shop" and jobs[a]["wage"] == 21 for a in task["credited"])
    # the reward left the mayor into escrow at posting and went to the two cooks on completion
    entries = await w.repo.ledger_entries()
    assert [(e.src, e.dst, e.amount) for e in entries if e.dst == "escrow:task:t1"] == [
        ("agent:david-okafor", "escrow:task:t1", 40)
    ]
    paid = {e.dst[6:]: e.amount for e in entries if e.src == "escrow:task:t1"}
    assert paid == {a: 20 for a in task["credited"]} and all(
        e.tick == task["completed_tick"] for e in entries if e.src == "escrow:task:t1"
    )
    assert w.ledger.balance("escrow:task:t1") == 0
    assert rep["ledger"]["zero_sum"] and w.ledger.total() == 0
    assert w.agents["david-okafor"].cash <= mayor_cash  # the mayor paid (and perhaps spent more)
    assert (tmp_path / "dessert_shop_hiring.report.html").read_text().count("<svg") >= 5


async def test_company_scenario_completes(town: Running, tmp_path: Path) -> None:
    w = town.services.world
    rc, rep = await run_scenario(town, ROOT / "scenarios/company.json", tmp_path)
    assert rc == 0
    by_type = {t["condition"]["type"]: t for t in rep["tasks"]}
    assert set(by_type) == {"company", "employed", "ledger_total", "knows_fact"}
    assert all(t["status"] == "completed" and t["completed_tick"] < 1080 for t in rep["tasks"])
    assert rep["companies"] and rep["companies"][0]["building"] == "office"
    assert len(by_type["company"]["credited"]) >= 3
    entries = await w.repo.ledger_entries()
    rewards = [e for e in entries if e.src == "source:reward"]
    assert sum(e.amount for e in rewards) == 100 + 60 + 30
    assert any(e.reason.startswith("register company") for e in entries)
    ledger_task = by_type["ledger_total"]
    assert ledger_task["done"] >= ledger_task["target"] == round(ledger_task["baseline"] * 1.2)
    diffusion = {d["fact"]: d for d in rep["diffusion"]}
    carmen = diffusion["The town council will pay a bonus to the first company registered this year."]
    assert carmen["seeded_by"] == "carmen-diaz" and len(carmen["knowers"]) >= 3
    # the scenario's probe asked every agent every 30 ticks, and saw the news spread
    (probe,) = rep["probes"]
    assert probe["name"] == "bonus-news" and probe["metric"] == "keywords"
    ticks = [t for t, _ in probe["mean"]]
    assert ticks == list(range(30, 30 * len(ticks) + 1, 30)) and ticks
    assert all(len(scores) == len(ticks) for scores in probe["agents"].values())
    assert probe["mean"][-1][1] > probe["mean"][0][1], probe["mean"]
    assert rep["ledger"]["zero_sum"] and w.ledger.total() == 0


async def test_company_scenario_completes_after_free_play(
    town: Running, admin: TownClient, tmp_path: Path
) -> None:
    """On a town that has lived a while (120 ticks of free play: everyone busy with its morning),
    the mayor's tasks still get done, the council's news included: a task offered interrupts a
    busy agent, and an agent with news tells the people it meets."""
    await admin.call("tick", count=120)
    rc, rep = await run_scenario(town, ROOT / "scenarios/company.json", tmp_path)
    assert rc == 0, [(t["title"], t["done"], t["target"]) for t in rep["tasks"]]
    news = next(t for t in rep["tasks"] if t["condition"]["type"] == "knows_fact")
    assert news["status"] == "completed" and len(news["credited"]) >= 3


async def test_scenarios_are_deterministic(sqlite_url: str, tmp_path: Path) -> None:
    outcomes = []
    for i in range(2):
        async with run_town(make_settings(sqlite_url.replace(".sqlite3", f"{i}.sqlite3"))) as town:
            rc, rep = await run_scenario(town, ROOT / "scenarios/dessert_shop_hiring.json", tmp_path / str(i))
            outcomes.append((rc, [(t["completed_tick"], t["credited"], t["payments"]) for t in rep["tasks"]]))
    assert outcomes[0] == outcomes[1]


async def test_bad_scenario_file_exits_2_naming_file_and_field(
    town: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"name": "bad", "tasks": [{"title": "x", "condition": {"type": "employed"}, "pay": 1}]})
    )
    rc, _ = await run_scenario(town, bad, tmp_path)
    err = capsys.readouterr().err
    assert (
        rc == 2 and str(bad) in err and "tasks.0.condition.employed.building" in err and "tasks.0.pay" in err
    )
    bad.write_text(
        json.dumps(
            {
                "name": "bad",
                "tasks": [
                    {
                        "title": "x",
                        "building": "nowhere",
                        "condition": {"type": "ledger_total", "percent": 110},
                    }
                ],
            }
        )
    )
    rc, _ = await run_scenario(town, bad, tmp_path)
    assert rc == 2 and "no building 'nowhere'" in capsys.readouterr().err
    probe = {
        "name": "p",
        "question": "Who are you?",
        "agents": ["nobody"],
        "metric": {"kind": "number", "min": 1, "max": 2},
    }
    bad.write_text(json.dumps({"name": "bad", "probes": [probe], "tasks": [TASKLESS]}))
    rc, _ = await run_scenario(town, bad, tmp_path)
    err = capsys.readouterr().err
    assert rc == 2 and "cannot declare the probes" in err and "nobody" in err, err
    assert (await town_tasks(town)) == [], "no task was posted"
    bad.write_text(json.dumps({"name": "bad", "probes": [{**probe, "every": 0}], "tasks": [TASKLESS]}))
    rc, _ = await run_scenario(town, bad, tmp_path)
    assert rc == 2 and "probes.0.every" in capsys.readouterr().err


TASKLESS = {"title": "x", "condition": {"type": "ledger_total", "percent": 110}}


async def town_tasks(town: Running) -> list[dict[str, Any]]:
    return list(await town.services.world.repo.rows("tasks"))


async def test_unreachable_server_exits_2(tmp_path: Path) -> None:
    args = mayor.parse_args(
        [
            str(ROOT / "scenarios/company.json"),
            "--url",
            "ws://127.0.0.1:9/ws",
            "--token",
            ADMIN,
            "--connect-timeout",
            "0",
            "--report-dir",
            str(tmp_path),
        ]
    )
    assert await mayor.drive(args) == 2


async def test_expired_task_returns_the_reward_and_exits_1(town: Running, tmp_path: Path) -> None:
    w = town.services.world
    sc = tmp_path / "hopeless.json"
    sc.write_text(
        json.dumps(
            {
                "name": "hopeless",
                "mayor": "carmen-diaz",
                "tasks": [
                    {
                        "title": "Build five cafes",
                        "reward": 50,
                        "deadline_ticks": 6,
                        "condition": {"type": "building_exists", "template": "cafe", "count": 5},
                    }
                ],
            }
        )
    )
    before = w.agents["carmen-diaz"].cash
    rc, rep = await run_scenario(town, sc, tmp_path, "--step", "1")
    assert rc == 1
    (task,) = rep["tasks"]
    assert task["status"] == "expired" and task["progress"].startswith("1/5")
    assert task["payments"] == [
        {"tick": 6, "src": "escrow:task:t1", "dst": "agent:carmen-diaz", "amount": 50}
    ]
    entries = await w.repo.ledger_entries("agent:carmen-diaz")
    assert sum(e.amount for e in entries if "escrow" in e.src + e.dst) == 100  # 50 out, 50 back
    assert w.agents["carmen-diaz"].cash <= before and w.ledger.total() == 0


async def test_max_ticks_leaves_open_tasks_and_exits_1(town: Running, tmp_path: Path) -> None:
    sc = tmp_path / "slow.json"
    sc.write_text(
        json.dumps(
            {
                "name": "slow",
                "tasks": [
                    {
                        "title": "Double the town's cash",
                        "reward": 5,
                        "condition": {"type": "ledger_total", "percent": 1000},
                    }
                ],
            }
        )
    )
    rc, rep = await run_scenario(town, sc, tmp_path, "--max-ticks", "3")
    assert rc == 1 and rep["tasks"][0]["status"] == "open" and rep["tick"] == 3


async def test_post_task_refusals_change_nothing(admin: TownClient, town: Running) -> None:
    w = town.services.world
    cash = w.agents["eva-novak"].cash
    with pytest.raises(CommandError) as e:
        await admin.call(
            "post_task",
            mayor="eva-novak",
            task={"title": "x", "reward": cash + 1, "condition": {"type": "visited", "building": "park"}},
        )
    assert e.value.code == "insufficient_funds"
    with pytest.raises(CommandError) as e:
        await admin.call(
            "post_task", task={"title": "x", "condition": {"type": "employed", "building": "park"}}
        )
    assert e.value.code == "no_such_job"
    with pytest.raises(CommandError) as e:
        await admin.call("post_task", task={"title": "x", "condition": {"type": "teleport"}})
    assert e.value.code == "invalid_request"
    viewer = await TownClient.connect(town.ws_url)
    with pytest.raises(CommandError) as e:
        await viewer.call(
            "post_task", task={"title": "x", "condition": {"type": "ledger_total", "percent": 1}}
        )
    assert e.value.code == "forbidden"
    assert (await viewer.call("list_tasks"))["tasks"] == []
    viewer.close()
    assert w.agents["eva-novak"].cash == cash and await w.repo.count("tasks") == 0


async def test_employment_wages_and_visits(admin: TownClient, town: Running) -> None:
    w = town.services.world
    t = (
        await admin.call(
            "post_task",
            mayor="player",
            task={
                "title": "Visit the workshop",
                "reward": 9,
                "condition": {"type": "visited", "building": "workshop", "equipment": "workbench"},
            },
        )
    )["task"]
    assert t["building"] == "workshop"
    (view,) = w.task_board.views()
    assert view.id == t["id"] and view.mayor_id == "player" and view.holder_ids == ()
    job = (await admin.call("hire", agent_id="alice-chen", building_id="workshop"))["job"]
    assert job == {
        "agent_id": "alice-chen",
        "building_id": "workshop",
        "title": "craftsman",
        "wage": 20,
        "since_tick": 0,
    }
    bench = next(e for e in w.buildings["workshop"].equipment if e.spec.name == "workbench")
    async with w.lock:
        for aid in ("alice-chen", "eva-novak"):
            a = w.agents[aid]
            a.x, a.y = w.buildings["workshop"].entrance
            before = a.cash
            rules.apply(w, a, Action("use", equipment_id=bench.id))
            earned = w.agents[aid].cash - before
            assert earned == (20 if aid == "alice-chen" else 13)  # employees earn income + 50%
        events = w.task_board.check(w)
        await w.commit()
    assert [e["kind"] for e in events] == ["task_completed"]
    listing = await admin.call("list_tasks", status="completed")
    assert listing["tasks"][0]["credited"] == ["alice-chen", "eva-novak"]
    assert listing["jobs"]["alice-chen"]["title"] == "craftsman"
    assert (await admin.call("quit_job", agent_id="alice-chen"))["building_id"] == "workshop"
    assert "alice-chen" not in w.jobs and await w.repo.count("jobs") == 0
    with pytest.raises(CommandError) as e:
        await admin.call("quit_job", agent_id="alice-chen")
    assert e.value.code == "not_found"


async def test_tasks_jobs_and_companies_survive_a_restart(sqlite_url: str, tmp_path: Path) -> None:
    async with run_town(make_settings(sqlite_url)) as town:
        rc, before = await run_scenario(town, ROOT / "scenarios/company.json", tmp_path)
        jobs = dict(town.services.world.jobs)
    async with run_town(make_settings(sqlite_url)) as town:
        w = town.services.world
        assert rc == 0 and w.jobs == jobs and len(jobs) >= 3
        c = await TownClient.connect(town.ws_url)
        after = (await c.call("list_tasks"))["tasks"]
        c.close()
        assert after == before["tasks"]
        assert w.task_board.companies == before["companies"]
        t = await TownClient.connect(town.ws_url)
        await t.call("login", token=ADMIN)
        new = await t.call(
            "post_task", task={"title": "again", "condition": {"type": "ledger_total", "percent": 50}}
        )
        t.close()
        assert new["task"]["id"] == "t5"


async def test_an_agent_registers_a_company_once(town: Running) -> None:
    from agent.interfaces import Action
    from server.world import rules

    w = town.services.world
    carmen = w.agents["carmen-diaz"]
    carmen.x, carmen.y = w.buildings["office"].entrance
    desk = next(e for e in w.buildings["office"].equipment if e.spec.name == "registry_desk")
    rules.apply(w, carmen, Action("use", equipment_id=desk.id, operation="register company"))
    rules.finish_use(w, carmen)
    desk.users.clear()
    cash = carmen.cash
    with pytest.raises(ActionRefused, match="already registered"):
        rules.apply(w, carmen, Action("use", equipment_id=desk.id, operation="register company"))
    assert carmen.cash == cash


async def test_employees_go_back_to_their_workplace(admin: TownClient, town: Running) -> None:
    w = town.services.world
    await admin.call("hire", agent_id="eva-novak", building_id="cafe")
    wages: list = []
    for _ in range(80):  # bounded: a few errands, then back to the cafe
        await admin.call("tick")
        wages = [
            e
            for e in await w.repo.ledger_entries("agent:eva-novak")
            if e.src == "source:economy" and "Sunrise Cafe" in e.reason
        ]
        if wages:
            break
    assert wages, "the employee never worked a shift at its workplace"
    # the barista counter's income plus the employee bonus, for each started half hour of the shift
    assert wages[0].amount > 0 and wages[0].amount % (12 + 6) == 0
