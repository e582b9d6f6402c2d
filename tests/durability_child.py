"""Child process for the SIGKILL durability test: `submit` queues jobs and draws slowly
until killed; `resume` re-queues what is unfinished and drains it. Each finished job id is
appended to a log so the parent can check that every job completed exactly once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from core.app import open_service
from core.jobs.job import Request
from core.lang.translate import IdentityTranslator, Translators
from core.queue.fair import JobHandle
from tests.fakes import FakeGenerator
from tests.helpers import make_config


async def main(mode: str, root: Path) -> None:
    cfg = make_config(root, generation={"steps": 5})
    log = root / "completed.log"

    async def record(h: JobHandle) -> None:
        if h.status == "done":
            with log.open("a") as f:
                f.write(f"{h.id}\n")

    async with open_service(
        cfg,
        generator=FakeGenerator(step_s=0.1),
        translators=Translators.single(IdentityTranslator()),
    ) as svc:
        svc.worker.listeners.append(record)
        if mode == "submit":
            for i in range(6):
                await svc.handle(Request("test", f"u{i % 3}", f"u{i % 3}", f"māja numur {i}"))
            print("submitted", flush=True)
            await asyncio.sleep(3600)  # killed with SIGKILL while drawing
        else:
            pending = list(svc.worker.handles.values())
            print(f"resumed {len(pending)}", flush=True)
            for h in pending:
                await h._done.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
