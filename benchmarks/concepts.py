"""Concept lookup speed: `ConceptRegistry.find` (and `parse`: normalize + find + language)
per prompt over every case file in tests/data. Goal (issue #10): p99 <= 1 ms per prompt.
Not a test; run `python -m benchmarks.concepts [--quick]`."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from core.lang.concepts import ConceptRegistry
from core.lang.prompt import PromptBuilder

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def prompts() -> list[str]:
    out = []
    for path in sorted(DATA.glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not (line.startswith("# ") or line == "#"):
                out.append(line.split("\t")[0])
    return out


def measure(call: Callable[[str], object], texts: list[str], rounds: int) -> list[float]:
    for text in texts:  # warm caches (stemmer, language model) once, as a running bot has
        call(text)
    times = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            call(text)
            times.append((time.perf_counter() - started) * 1000)
    return times


def report(name: str, times: list[float]) -> None:
    q = statistics.quantiles(times, n=100)
    print(
        f"{name:28} n={len(times):6}  p50 {q[49]:.3f} ms  p95 {q[94]:.3f} ms  "
        f"p99 {q[98]:.3f} ms  max {max(times):.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round instead of ten")
    args = parser.parse_args()
    rounds = 1 if args.quick else 10
    started = time.perf_counter()
    registry = ConceptRegistry.load()
    print(f"registry load: {(time.perf_counter() - started) * 1000:.0f} ms")
    texts = prompts()
    builder = PromptBuilder(registry)
    report("find (concept lookup)", measure(registry.find, texts, rounds))
    report("parse (+normalize, language)", measure(builder.parse, texts, rounds))


if __name__ == "__main__":
    main()
