"""Helpers for the browser tests: launching Debian's Chromium, watching a page's console, and a
TCP proxy that can drop every connection and refuse new ones, to play a server restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = os.environ.get("TOWN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# Chromium itself logs a refused websocket as a console error; the page cannot silence it.
SOCKET_REFUSED = ("WebSocket connection to", "ERR_CONNECTION_REFUSED")


def require_chromium() -> None:
    """Skip without Chromium, but fail in CI, where the browser tests must run."""
    if os.access(CHROMIUM, os.X_OK):
        return
    msg = f"Chromium is missing at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(msg + "; CI requires the browser tests")
    pytest.skip(msg + " (set CI=1 to make this a failure)")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's headless Chromium (skipped without it, failed in CI), closed after the block."""
    require_chromium()
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@contextlib.asynccontextmanager
async def town_page(url: str, wait_ms: int = 15_000) -> AsyncIterator[tuple[Page, Console]]:
    """The browser client at `url` in Chromium on a desktop viewport (1400x860), its console
    watched, once the town is loaded and synced; closed after the block."""
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 860})
        console = Console()
        console.attach(page)
        await page.goto(url)
        await page.wait_for_function(
            "() => { const t = window.__town; return !!t && t.loaded && t.syncs >= 1; }", timeout=wait_ms
        )
        yield page, console


@dataclass
class Console:
    """Console errors and uncaught exceptions of one page."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on(
            "console",
            lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def unexpected(self, *, allow_refused_sockets: bool = False) -> list[str]:
        if not allow_refused_sockets:
            return list(self.errors)
        return [e for e in self.errors if not any(s in e for s in SOCKET_REFUSED)]


class DropProxy:
    """A TCP proxy to `upstream_port`. `down()` closes every connection and stops listening
    (clients then see a dropped socket and refused reconnects, as in a server restart);
    `up()` listens again on the same port."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for w in list(self.writers):
            w.close()
        tasks = list(self.tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for w in list(self.writers):
            with contextlib.suppress(Exception):
                await w.wait_closed()
        self.writers.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        t = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self.writers.add(up_w)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._pipe(reader, up_w))
                tg.create_task(self._pipe(up_r, writer))
        finally:
            for w in (writer, up_w):
                w.close()
                self.writers.discard(w)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.close()
