"""The browser client under a ticking town: headless Chromium (`/usr/bin/chromium`) shows a town
of 100 agents (the baseline, in the same run) and one of 1,000 while an admin ticks it every 2 s,
on the desktop viewport (1400x860) and, at 1,000 agents, on a phone's (390x844, 3x pixels, touch).

The figures come from the page, measured by a script injected before the client loads, so they
do not depend on how the client draws: frames per second (requestAnimationFrame callbacks over
the window), long tasks (the Long Tasks API: count, total, longest, share of the window),
tick-to-paint (from a `tick` push arriving on the websocket, before the client sees it, to the
first frame after it has been painted: a `requestAnimationFrame` then a zero-delay task), the
push's size in bytes as received (median and largest), and the DOM's element count. When the
client exposes `window.__labels()` (the rectangles of the names it drew), any two that overlap
are counted. A tick push is recognised by its head, `{"type":"tick` (either form).

Targets at 1,000 agents on the desktop: >= 50 fps, long tasks < 5% of the time, tick-to-paint
p50 < 50 ms, median push < 30 KB, no two drawn labels overlapping.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench._common import ADMIN, emit, main_async, scratch, settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
TICK_EVERY_S = 2.0
DESKTOP: dict[str, Any] = {"viewport": {"width": 1400, "height": 860}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}

# Injected before the page's own scripts: counts frames, long tasks, tick pushes and their paint.
PROBE = r"""
(() => {
  const m = window.__bench = { on: false, t0: 0, frames: 0, longN: 0, longMs: 0, longMax: 0, t2p: [], sizes: [] };
  const Native = window.WebSocket;
  const enc = new TextEncoder();
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      // Added before the client sets `onmessage`, so it runs first: the stamp is the arrival.
      this.addEventListener('message', (ev) => {
        if (!m.on || typeof ev.data !== 'string' || !ev.data.startsWith('{"type":"tick')) return;
        const t0 = performance.now();
        m.sizes.push(enc.encode(ev.data).length);
        requestAnimationFrame(() => setTimeout(() => m.t2p.push(performance.now() - t0), 0));
      });
    }
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (!m.on) continue;
      m.longN += 1; m.longMs += e.duration; m.longMax = Math.max(m.longMax, e.duration);
    }
  }).observe({ type: 'longtask' });
  const loop = () => { if (m.on) m.frames += 1; requestAnimationFrame(loop); };
  requestAnimationFrame(loop);
})();
"""

# Pairs of drawn label rectangles that overlap (by more than half a pixel each way).
OVERLAPS = r"""
() => {
  if (typeof window.__labels !== 'function') return null;
  const r = window.__labels();
  let n = 0;
  for (let i = 0; i < r.length; i++) for (let j = i + 1; j < r.length; j++) {
    const a = r[i], b = r[j];
    if (a.x < b.x + b.w - 0.5 && b.x < a.x + a.w - 0.5 && a.y < b.y + b.h - 0.5 && b.y < a.y + a.h - 0.5) n += 1;
  }
  return { labels: r.length, overlapping_pairs: n };
}
"""


async def _ticker(admin: Any, stop: asyncio.Event) -> int:
    """Tick every TICK_EVERY_S (a tick that takes longer delays the next); returns the count."""
    n = 0
    while not stop.is_set():
        t0 = time.monotonic()
        await admin.call("tick")
        n += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, TICK_EVERY_S - (time.monotonic() - t0)))
    return n


async def _measure(
    browser: Any, url: str, admin: Any, device: dict[str, Any], window_s: float, warmup_s: float
) -> dict[str, Any]:
    """Open the page, let it tick for a warm-up, then measure `window_s` seconds."""
    ctx = await browser.new_context(**device)
    try:
        page = await ctx.new_page()
        await page.add_init_script(PROBE)
        await page.goto(url)
        await page.wait_for_function("() => window.__town && window.__town.loaded", timeout=60_000)
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(admin, stop))
        try:
            await asyncio.sleep(warmup_s)  # the first pushes, the glides settle into a rhythm
            await page.evaluate("() => { const m = window.__bench; m.on = true; m.t0 = performance.now(); }")
            await asyncio.sleep(window_s)
            m = await page.evaluate(
                "() => { const m = window.__bench; m.on = false;"
                " return {...m, elapsed: performance.now() - m.t0, dom: document.getElementsByTagName('*').length,"
                " tick: window.__town.tick}; }"
            )
            labels = await page.evaluate(OVERLAPS)
        finally:
            stop.set()
            ticks = await ticker
    finally:
        await ctx.close()
    secs = m["elapsed"] / 1000
    t2p, sizes = sorted(m["t2p"]), sorted(m["sizes"])
    return {
        "fps": round(m["frames"] / secs, 1),
        "long_tasks": m["longN"],
        "long_task_ms": round(m["longMs"]),
        "long_task_share": round(m["longMs"] / m["elapsed"], 4),
        "longest_task_ms": round(m["longMax"]),
        "tick_to_paint_p50_ms": round(statistics.median(t2p), 1) if t2p else None,
        "tick_to_paint_max_ms": round(t2p[-1], 1) if t2p else None,
        "pushes": len(sizes),
        "push_bytes_median": sizes[len(sizes) // 2] if sizes else None,
        "push_bytes_max": sizes[-1] if sizes else None,
        "dom_elements": m["dom"],
        "labels": labels,
        "ticks": ticks,
        "page_tick": m["tick"],
        "window_s": round(secs, 1),
    }


async def run(quick: bool) -> None:
    from playwright.async_api import async_playwright

    from server.app import run_town
    from server.client import TownClient

    sizes, window_s, warmup_s = ((30,), 1.5, 0.5) if quick else ((100, 1000), 20.0, 2 * TICK_EVERY_S)
    out: dict[str, Any] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for n in sizes:
                with scratch() as tmp:
                    async with run_town(settings(tmp, n)) as town:
                        async with await TownClient.connect(town.ws_url) as admin:
                            await admin.call("login", token=ADMIN)
                            await admin.call("tick", count=2)  # every agent's first plan is made
                            out[f"desktop_{n}"] = await _measure(
                                browser, town.url, admin, DESKTOP, window_s, warmup_s
                            )
                            if n == sizes[-1]:
                                out[f"phone_{n}"] = await _measure(
                                    browser, town.url, admin, PHONE, window_s, warmup_s
                                )
        finally:
            await browser.close()
    big = out[f"desktop_{sizes[-1]}"]
    labels = big["labels"]
    met = (
        big["fps"] >= 50
        and big["long_task_share"] < 0.05
        and big["tick_to_paint_p50_ms"] is not None
        and big["tick_to_paint_p50_ms"] < 50
        and big["push_bytes_median"] is not None
        and big["push_bytes_median"] < 30_000
        and labels is not None
        and labels["overlapping_pairs"] == 0
    )
    emit(
        "browser",
        {
            "agents": list(sizes),
            "tick_every_s": TICK_EVERY_S,
            "window_s": window_s,
            "desktop": DESKTOP["viewport"],
            "phone": PHONE["viewport"],
            "llm": "scripted",
            "chromium": CHROMIUM,
        },
        out,
        f"at {sizes[-1]} agents on the desktop: >= 50 fps, long tasks < 5% of the time, tick-to-paint p50 < 50 ms,"
        " median push < 30 KB, no overlapping labels",
        met,
    )


def main(argv: Sequence[str] | None = None) -> None:
    main_async(run, argv, __doc__ or "")


if __name__ == "__main__":
    main(sys.argv[1:])
