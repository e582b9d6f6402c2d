"""A bot process whose image model hangs forever; the SIGTERM test stops it."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from core.app import open_service
from core.jobs.job import Request
from core.lang.translate import IdentityTranslator, Translators
from tests.fakes import FakeGenerator
from tests.helpers import make_config


async def main(tmp: Path) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    gen = FakeGenerator(hang=True)
    cfg = make_config(tmp, generation={"job_timeout_s": 600.0})
    async with open_service(
        cfg, generator=gen, translators=Translators.single(IdentityTranslator())
    ) as svc:
        await svc.handle(Request("test", "u1", "u1", "kaķis uz jumta"))
        while not gen.calls:
            await asyncio.sleep(0.05)
        print("drawing", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
