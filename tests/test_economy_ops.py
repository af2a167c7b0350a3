"""Per-operation prices (`functions`, `owner_only`) and menus bought in quantities, on the
imported AgentSims fixture: the rules charge each operation its own price, keep staff-only
operations for staff, book each menu line, refuse orders beyond an agent's cash, and the ledger
stays zero-sum in memory and in the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.interfaces import Action, LLMRequest
from agent.llm.scripted import ScriptedModel
from agent.prompts.schemas import ActDecision
from server.app import run_town
from server.errors import GameError
from server.tools.import_agentsims import import_town
from server.world import rules
from server.world.town import EquipmentSpec
from tests.conftest import make_settings
from tests.test_agentsims_import import FIXTURE


def test_plain_price_and_income_still_mean_one_operation_price() -> None:
    spec = EquipmentSpec(name="oven", operations=["bake", "sell"], price=3, income=7)
    assert spec.operation("BAKE").cost == 3 and spec.operation("sell").earn == 7
    with pytest.raises(ValueError, match="cost and earn instead of price"):
        EquipmentSpec.model_validate({"name": "x", "functions": [{"name": "a", "cost": 1}], "price": 2})
    with pytest.raises(ValueError, match="at least 1"):
        EquipmentSpec(name="x", operations=["buy"], menu={"tea": 0})


async def test_operations_menus_and_the_ledger(tmp_path: Path, db_url: str) -> None:
    import_town(FIXTURE, tmp_path / "t")
    settings = make_settings(
        db_url, town=str(tmp_path / "t/town.json"), agents=str(tmp_path / "t/agents.json")
    )
    async with run_town(settings) as r:
        w = r.services.world
        store = w.buildings["corner-store-1"]
        counter = next(e for e in store.equipment if e.spec.name == "counter")
        mira = next(a for a in w.agents.values() if a.name == "Mira Holt")
        ines = next(a for a in w.agents.values() if a.name == "Ines Park")
        async with w.lock:
            for a in (mira, ines):
                a.x, a.y = store.entrance
            start = mira.cash
            rules.apply(
                w,
                mira,
                Action(
                    "use",
                    equipment_id=counter.id,
                    operation="buy groceries",
                    items=(("bread", 2), ("Cheese", 1), ("bread", 1)),
                ),
            )
            assert mira.cash == start - 12 - 3 * 3 - 5
            reasons = [e.reason for e in w.ledger.pending if e.src == f"agent:{mira.id}"]
            assert reasons == [
                "Buy groceries at corner store",
                "3 x bread at corner store",
                "1 x cheese at corner store",
            ]
            rules.apply(w, mira, Action("leave"))  # frees the counter
            with pytest.raises(GameError, match="only for the owner and the employees"):
                rules.apply(w, ines, Action("use", equipment_id=counter.id, operation="Restock shelves"))
            buy = "Buy groceries"
            order = (("milk", 2), ("bread", 13))
            with pytest.raises(GameError, match="costs 55"):  # 12 + 2 x 2 + 13 x 3 beyond Ines's 40
                rules.apply(w, ines, Action("use", equipment_id=counter.id, operation=buy, items=order))
            with pytest.raises(GameError, match="no 'caviar' on its menu"):
                rules.apply(
                    w, ines, Action("use", equipment_id=counter.id, operation=buy, items=(("caviar", 1),))
                )
            assert ines.cash == 40 and counter.users == []  # refused: nothing changed
            w.jobs[ines.id] = store.id  # an employee may restock, and earns for it
            rules.apply(w, ines, Action("use", equipment_id=counter.id, operation="Restock shelves"))
            assert ines.cash > 40
            assert w.ledger.total() == 0
            await w.commit()
        entries = await w.repo.ledger_entries()
        assert sum(e.amount for e in entries if e.dst == "town") == 12 + 9 + 5
        assert w.ledger.total() == 0


async def test_scripted_model_orders_from_a_menu_within_its_cash() -> None:
    m = ScriptedModel()
    menu = {"latte": 15, "cake": 7, "bun": 2}
    for cash in (0, 5, 18, 60):
        building = {
            "id": "cafe",
            "equipment": [
                {"id": "cafe/0", "name": "till", "operations": ["order"], "price": 0, "free": 1, "menu": menu}
            ],
        }
        ctx = {"cash": cash, "purpose": "get a coffee", "name": "A", "goal": "coffee", "building": building}
        res = await m.complete(LLMRequest(kind="act", messages=(), context=ctx, agent_id="a"))
        order = json.loads(res.text)["order"]
        assert sum(menu[k] * n for k, n in order.items()) <= cash
        assert (order != {}) == (cash >= 2)
        assert ActDecision.model_validate_json(res.text).order == order
    assert ActDecision.model_validate({"action": "use", "order": None}).order == {}  # a model's null
