"""`./town run`, as a new user runs it: the real script, the real server and driver processes.

It serves where the flags, `TOWN_*` variables or config file say and points its driver there,
keeps the admin token across restarts, prints both programs' help, and fails loudly (a non-zero
exit and a message) when the server does not start or the driver stops.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANG_GUARD_S = 180  # only so a hanging script fails the test instead of the whole run


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`./town run ARGS` with no TOWN_* settings from the caller's environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOWN_")}
    clean.update(TMPDIR=str(tmp_path), **env)
    return subprocess.run(
        ["bash", str(ROOT / "town"), "run", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )


def opened(out: str) -> tuple[int, str]:
    """The port and admin token of the `town: open ...` line."""
    m = re.search(r"town: open http://localhost:(\d+)\s+\(admin token: (\S+)\)", out)
    assert m, out
    return int(m.group(1)), m.group(2)


def test_help_prints_the_server_and_driver_options(tmp_path: Path) -> None:
    r = run(["--help"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "usage: python -m server" in r.stdout and "--port" in r.stdout
    assert "usage: tick.py" in r.stdout and "--interval" in r.stdout
    assert "town: open" not in r.stdout  # nothing was started


def test_driver_ticks_the_port_the_server_listens_on_and_the_token_is_kept(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'town.sqlite3'}"
    first = run(["--port", "0", "--db", db, "--", "--ticks", "2", "--interval", "0"], tmp_path)
    assert first.returncode == 0, first.stderr
    port, token = opened(first.stdout)
    assert port not in (0, 8000)  # the port the server bound, not the default
    assert re.search(r"^tick\s+2\s", first.stdout, re.M), first.stdout

    # the port from the environment this time; the same database keeps the same token and town
    second = run(["--db", db, "--", "--ticks", "1", "--interval", "0"], tmp_path, TOWN_PORT="0")
    assert second.returncode == 0, second.stderr
    assert opened(second.stdout)[1] == token
    assert re.search(r"^tick\s+3\s", second.stdout, re.M), second.stdout


def test_server_that_cannot_start_fails_the_run(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run(["--port", str(port), "--db", f"sqlite:///{tmp_path / 't.sqlite3'}"], tmp_path)
    assert r.returncode != 0
    assert "the server did not start" in r.stderr
    assert "town: open" not in r.stdout


def test_driver_failure_fails_the_run(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'town.sqlite3'}"
    r = run(["--port", "0", "--db", db, "--", "--token", "not-the-token", "--ticks", "1"], tmp_path)
    assert r.returncode != 0
    assert "tick.py stopped" in r.stderr and "refused" in r.stderr


def test_unknown_server_flag_names_it(tmp_path: Path) -> None:
    r = run(["--bogus"], tmp_path)
    assert r.returncode == 2
    assert "unrecognized arguments: --bogus" in r.stderr
