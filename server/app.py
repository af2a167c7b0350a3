"""Builds the running town and serves it: `python -m server` (see `--help`).

`main()` is the one owner of resources: the database engine, the model clients and the server
socket are opened in one AsyncExitStack and closed on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import secrets
import signal
import sys
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import tornado.httpserver
import tornado.netutil
import tornado.web

from agent.llm.local import LocalModelError, on_local_model
from agent.memory.stream import matvec_pool
from agent.model_service import ModelService
from agent.registry import plugin_registry
from config.settings import ROOT, ConfigError, Settings, load_settings
from server.context import Services
from server.db.repository import Repository
from server.http import GuardedHTTPServer, WebFiles
from server.hub import Hub
from server.report.html import render as render_report
from server.router import Router, discover
from server.runs.hooks import load_probes
from server.runs.research import CompareHandler, research_html, research_section
from server.runs.store import RunStore
from server.world.town import TownFileError, TownFiles, load_presets
from server.world.world import World
from server.ws import TownSocket

log = logging.getLogger(__name__)
WEB_ROOT = Path(__file__).resolve().parent / "web"


class InfoHandler(tornado.web.RequestHandler):
    """GET /healthz: a plain liveness check for load balancers and scripts."""

    def initialize(self, services: Services) -> None:
        self.services = services

    def get(self) -> None:
        w = self.services.world
        self.write({"ok": True, "tick": w.clock.tick, "agents": len(w.agents)})


class ReportHandler(tornado.web.RequestHandler):
    """GET /report (HTML with inline SVG plots) and /report.json: the run report."""

    def initialize(self, services: Services, fmt: str) -> None:
        self.services = services
        self.fmt = fmt
        self._etag: str | None = None

    def compute_etag(self) -> str | None:
        """The report's version (a client that sends it back gets 304), not a hash of the body."""
        return self._etag

    async def get(self) -> None:
        reports = self.services.reports
        w = self.services.world
        rep = dict(await reports.report())  # kept as ticks commit (see server/report/build.py)
        version = f"{w.reloads}-{w.commits}"
        research = await research_section(self.services)  # the open run's lineage and probes
        rep.update(research)
        tag = f'"{version}-{self.fmt}-{zlib.crc32(orjson.dumps(research)):x}"'
        self._etag = tag
        if self.request.headers.get("If-None-Match") == tag:
            self.set_status(304)
            return
        if self.fmt == "json":
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.write(orjson.dumps(rep).decode())
        else:
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.write(render_report(rep, extra=research_html(rep)))


def make_app(services: Services) -> tornado.web.Application:
    """The tornado application: /ws, /healthz, /report, /report.json, /favicon.ico and the static
    browser client."""
    lim = services.settings.limits
    routes: list[Any] = [
        (r"/ws", TownSocket, {"services": services}),
        (r"/healthz", InfoHandler, {"services": services}),
        (r"/report", ReportHandler, {"services": services, "fmt": "html"}),
        (r"/report\.json", ReportHandler, {"services": services, "fmt": "json"}),
        (r"/report/compare(\.json)?", CompareHandler, {"services": services}),
        # pages without an icon link (the report, JSON in a browser tab) ask for /favicon.ico
        (r"/favicon\.ico", tornado.web.RedirectHandler, {"url": "/favicon.svg"}),
    ]
    routes.extend(services.extras.get("routes", []))
    routes.append((r"/(.*)", WebFiles, {"path": str(WEB_ROOT), "default_filename": "index.html"}))
    return tornado.web.Application(
        routes, websocket_max_message_size=max(lim.max_frame_bytes * 16, 1 << 20), websocket_ping_interval=20
    )


@dataclass
class Running:
    """A started town: its services, the bound port, and the HTTP server."""

    services: Services
    port: int
    server: tornado.httpserver.HTTPServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@contextlib.asynccontextmanager
async def run_town(settings: Settings) -> AsyncIterator[Running]:
    """Open everything the town needs, serve it, and close it all on exit."""
    async with contextlib.AsyncExitStack() as stack:
        town = TownFiles(settings.path(settings.town))
        presets = load_presets(settings.path(settings.agents)) if settings.agents else []
        repo = await Repository.open(settings.db, ROOT, fast_literals=settings.db_fast_literals)
        stack.push_async_callback(repo.close)
        pool = stack.enter_context(matvec_pool())  # the stream memories' threads, shut down on exit
        world = World(
            town,
            repo,
            plugin_registry(pool),
            seed=settings.seed,
            tick_seconds=settings.tick_seconds,
            max_agents=settings.limits.agents_per_town,
            sight=settings.sight_tiles,
            move_tiles=settings.move_tiles_per_tick,
            llm_names=settings.llm_names(),
        )
        stack.push_async_callback(_close_switched, world, repo)  # an opened run's repository
        await world.start(
            presets, str(settings.path(settings.agents)) if settings.agents else "agent presets"
        )
        token = await _admin_token(settings, world)
        models = ModelService(settings)
        stack.push_async_callback(models.aclose)
        services = Services(settings, world, Hub(), Router(discover()), token, models)
        if ":memory:" not in settings.db:
            services.runs = RunStore(settings.db, ROOT, settings.runs)
            stack.push_async_callback(services.runs.aclose)
            await load_probes(services)
        app = make_app(services)
        server = GuardedHTTPServer(app, limits=settings.limits, xheaders=False)
        sockets = tornado.netutil.bind_sockets(settings.port, settings.host)
        server.add_sockets(sockets)
        stack.callback(server.stop)
        port = sockets[0].getsockname()[1]
        log.info("town %r serving on http://%s:%d (websocket /ws)", town.map.name, settings.host, port)
        yield Running(services, port, server)


async def _close_switched(world: World, first: Repository) -> None:
    if world.repo is not first:
        await world.repo.close()


async def _admin_token(settings: Settings, world: World) -> str:
    if settings.admin_token:
        return settings.admin_token
    snap_token = (await world.repo.load()).meta.get("admin_token")
    if snap_token:
        return str(snap_token)
    token = secrets.token_urlsafe(24)
    world.dirty.meta["admin_token"] = token
    await world.commit()
    print(
        f"admin token (generated, stored in the database; set admin_token to choose one): {token}", flush=True
    )
    return token


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m server", description="Run the AI town game server.")
    p.add_argument("--config", help="JSON config file (see docs/operations.md: Configuration)")
    p.add_argument("--db", help="sqlite:///path or mysql://user:pass@host:port/db")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP and websocket port (default 8000; 0 picks a free one)")
    p.add_argument("--town", help="town map JSON (default buildings/town.json)")
    p.add_argument("--seed", type=int, help="the world's random seed (default 42)")
    p.add_argument("--admin-token", help="the admin token (default: the one kept in the database)")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument(
        "--ready-file",
        help="once serving, write the address and the admin token here as JSON (mode 0600; for ./town run)",
    )
    p.add_argument(
        "--local-model",
        action="store_true",
        help="think with the offline SmolLM2 model on llama-cpp-python's server (the 'local' extra; "
        "docs/local-models.md)",
    )
    return p.parse_args(argv)


# Libraries that log every HTTP request at INFO: one line per LLM call, thousands a tick.
CHATTY_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "openai")


def configure_logging(level: str) -> None:
    """The server's log format at `level`; the HTTP libraries under the SDK speak only from
    WARNING on, unless `level` is DEBUG."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


# Young-generation threshold of the cyclic garbage collector (CPython's default is 700).
GC_GEN0_THRESHOLD = 20_000


def tune_gc() -> None:
    """Settle the cyclic garbage collector for a server process, once its town is loaded.

    A tick allocates hundreds of thousands of short-lived objects (prompts, requests, answers)
    that reference counting frees; with CPython's defaults they trigger hundreds of young
    collections per tick and, as the town's long-lived objects (agents, memories, modules) sit
    in the oldest generation, full collections that walk all of them: 15% of a 1,000-agent
    tick's CPU (`bench/tick_concurrency.py`). This collects once, moves every survivor to the
    permanent generation (`gc.freeze`: never scanned again, still freed by reference counting),
    and raises the young threshold so a tick's garbage is scanned in a few larger passes.
    Called again (a benchmark starting another town), it first returns the frozen objects to
    the collector, so garbage cycles among them are not kept."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _, g1, g2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, g1, g2)


def write_ready_file(path: str, running: Running, host: str) -> None:
    """Tell a launcher where the town listens and its admin token: `{"url", "ws_url", "port",
    "admin_token"}`, written whole (a temporary file renamed) and readable by the owner only."""
    reach = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    reach = f"[{reach}]" if ":" in reach else reach
    info = {
        "url": f"http://{reach}:{running.port}",
        "ws_url": f"ws://{reach}:{running.port}/ws",
        "port": running.port,
        "admin_token": running.services.admin_token,
    }
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(info, f)
    os.replace(tmp, target)


async def serve(settings: Settings, ready_file: str | None = None, *, local_model: bool = False) -> None:
    """Run until SIGINT or SIGTERM; with `local_model`, on the offline model's server, started
    first and stopped last."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        if local_model:
            log.info("starting the local model server (log: var/local-model.log) ...")
            settings = await stack.enter_async_context(
                on_local_model(settings, log_path=settings.path("var/local-model.log"))
            )
        running = await stack.enter_async_context(run_town(settings))
        tune_gc()
        if ready_file:
            write_ready_file(ready_file, running, settings.host)
        await stop.wait()
        log.info("shutting down")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(
            args.config,
            db=args.db,
            host=args.host,
            port=args.port,
            town=args.town,
            seed=args.seed,
            admin_token=args.admin_token,
            log_level=args.log_level,
        )
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        asyncio.run(serve(settings, args.ready_file, local_model=args.local_model))
    except LocalModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TownFileError as e:
        print(f"error: the town files are invalid:\n{e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
