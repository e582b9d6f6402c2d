"""A runner process on a fake generator, for the SIGKILL takeover tests:
`python -m tests.runner_child URL NAME STEP_S CLAIM_AFTER_S [MODEL]` (default lv-sb)."""

from __future__ import annotations

import asyncio
import sys

from core.queue.runner import Runner
from tests.fakes import FakeGenerator


async def main(url: str, name: str, step_s: float, claim_after_s: float, model: str) -> None:
    generator = FakeGenerator(model=model, step_s=step_s)
    runner = Runner(generator, url, models=[model], name=name, claim_after_s=claim_after_s)
    await runner.run()


if __name__ == "__main__":
    model = sys.argv[5] if len(sys.argv) > 5 else "lv-sb"
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), model))
