"""The fake OpenAI-compatible server, answering every prompt of the town validly, as a process:
`python -m bench._fake --latency 0.2` prints its base URL and serves until SIGTERM.

It is `tests.fakes.openai_server.FakeOpenAIServer` with `tests.fakes.town_responder`: the answer
schema's title is read from the system message and a minimal valid object returned (the first
building id listed in the prompt as the destination), so no agent step fails on a bad answer.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.town_responder import town_responder


async def _main(latency: float) -> None:
    server = FakeOpenAIServer(latency=latency, responder=town_responder, record=False)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    url = await server.start()
    sys.stdout.write(url + "\n")
    sys.stdout.flush()
    try:
        await done.wait()
    finally:
        await server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--latency", type=float, default=0.2)
    asyncio.run(_main(p.parse_args().latency))


if __name__ == "__main__":
    main()
