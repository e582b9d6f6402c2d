"""A runner process on a fake generator, for the SIGKILL takeover test:
`python -m tests.runner_child URL NAME STEP_S CLAIM_AFTER_S`."""

from __future__ import annotations

import asyncio
import sys

from core.queue.runner import Runner
from tests.fakes import FakeGenerator


async def main(url: str, name: str, step_s: float, claim_after_s: float) -> None:
    runner = Runner(FakeGenerator(step_s=step_s), url, name=name, claim_after_s=claim_after_s)
    await runner.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
