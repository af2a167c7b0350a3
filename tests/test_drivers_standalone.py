"""The drivers on another machine: tick.py and mayor.py run from a directory holding only them
and townclient.py, in a virtual environment holding only `websockets` and `pydantic` (installed
as docs/drivers.md says), against a running server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.app import Running
from tests.conftest import ADMIN

ROOT = Path(__file__).resolve().parent.parent
DRIVER_FILES = ("tick.py", "mayor.py", "townclient.py")
PACKAGES = ("websockets>=14", "pydantic>=2.7")  # what docs/drivers.md tells a researcher to install
INSTALL = "pip install " + " ".join(f'"{p}"' for p in PACKAGES)


@pytest.fixture(scope="session")
def driver_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh venv with only PACKAGES (made once per session)."""
    venv = tmp_path_factory.mktemp("standalone") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", *PACKAGES],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, f"cannot install {PACKAGES} into a venv:\n{pip.stderr}"
    return py


@pytest.fixture
def drivers_dir(tmp_path: Path) -> Path:
    """A directory holding the three files and nothing else."""
    d = tmp_path / "drivers"
    d.mkdir()
    for name in DRIVER_FILES:
        shutil.copy(ROOT / name, d / name)
    return d


def _env() -> dict[str, str]:
    """This environment without anything that would put the repository on the import path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


async def _run(py: Path, cwd: Path, *args: str) -> tuple[int, str, str]:
    p = await asyncio.create_subprocess_exec(
        str(py),
        *args,
        cwd=cwd,
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(p.communicate(), 300)
    assert p.returncode is not None
    return p.returncode, out.decode(), err.decode()


def test_docs_install_the_packages_the_test_installs() -> None:
    doc = (ROOT / "docs" / "drivers.md").read_text()
    assert INSTALL in doc
    assert all(f"`{name}`" in doc for name in DRIVER_FILES)


async def test_the_venv_holds_no_server(driver_python: Path, drivers_dir: Path) -> None:
    """Otherwise the tests below would prove nothing."""
    rc, out, _ = await _run(
        driver_python,
        drivers_dir,
        "-c",
        "import importlib.util as u; print([m for m in ('server', 'tornado', 'orjson', 'websockets', "
        "'pydantic') if u.find_spec(m)])",
    )
    assert rc == 0 and out.strip() == "['websockets', 'pydantic']"


async def test_tick_py_from_another_machine(town: Running, driver_python: Path, drivers_dir: Path) -> None:
    rc, out, err = await _run(
        driver_python,
        drivers_dir,
        "tick.py",
        "--url",
        town.ws_url,
        "--token",
        ADMIN,
        "--ticks",
        "3",
        "--interval",
        "0",
    )
    assert rc == 0, err
    lines = out.splitlines()
    assert sum(line.startswith("tick ") for line in lines) == 3 and "Day 1" in lines[0]
    assert lines[-1].startswith("done: 3 ticks") and town.services.world.clock.tick == 3
    rc, _, err = await _run(driver_python, drivers_dir, "tick.py", "--url", town.ws_url, "--token", "wrong")
    assert rc == 1 and "wrong admin token" in err
    rc, _, err = await _run(
        driver_python, drivers_dir, "tick.py", "--url", "ws://127.0.0.1:9/ws", "--connect-timeout", "0"
    )
    assert rc == 1 and "cannot reach" in err


async def test_mayor_py_from_another_machine(
    town: Running, driver_python: Path, drivers_dir: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    rc, out, err = await _run(
        driver_python,
        drivers_dir,
        "mayor.py",
        str(ROOT / "scenarios" / "dessert_shop_hiring.json"),
        "--url",
        town.ws_url,
        "--token",
        ADMIN,
        "--report-dir",
        str(reports),
    )
    assert rc == 0, err
    assert out.startswith("posted t1: Hire two cooks") and "t1 COMPLETED at tick" in out
    assert "(zero-sum)" in out and f"report: {reports / 'dessert_shop_hiring.report.json'}" in out
    rep = json.loads((reports / "dessert_shop_hiring.report.json").read_text())
    assert rep["scenario"]["task_ids"] == ["t1"] and rep["tasks"][0]["status"] == "completed"
    assert (reports / "dessert_shop_hiring.report.html").read_text().count("<svg") >= 5
    bad = tmp_path / "bad.json"  # judged by the driver alone: no server needed
    bad.write_text(json.dumps({"name": "bad", "tasks": [{"title": "x", "condition": {"type": "employed"}}]}))
    rc, _, err = await _run(driver_python, drivers_dir, "mayor.py", str(bad), "--url", "ws://127.0.0.1:9/ws")
    assert rc == 2 and f"{bad}: field tasks.0.condition.employed.building" in err
