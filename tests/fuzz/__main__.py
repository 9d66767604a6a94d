"""``make fuzz``: every target at about six times the CI size, with a random (printed) seed.

    PYTHONPATH=tests python -m fuzz [--seed N] [--scale X] [--examples N] [--target NAME ...]

Prints, per target, the mutants tried and how many got past the decoders, the generated
examples tried, the distinct crashes and the time; then each crash with its minimised input.
Exits 1 if anything escaped. Rerun a reported seed with ``--seed`` to reproduce it.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
import traceback

from hypothesis import HealthCheck, given, seed, settings

from .engine import Crash, Outcome, Target, fuzz
from .strategies import STRATEGIES
from .targets import CI_CASES, TARGETS


def _properties(target: Target, examples: int, chosen: int) -> tuple[int, list[str]]:
    """Run the target's property with ``examples`` generated inputs; (tried, failures)."""
    tried = 0
    with target.session() as run:

        @seed(chosen)
        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(STRATEGIES[target.name])
        def check(data: bytes) -> None:
            nonlocal tried
            tried += 1
            run(data)

        try:
            check()
        except Exception as exc:
            notes = "\n".join(getattr(exc, "__notes__", []))
            text = "".join(traceback.format_exception(exc, limit=-6))
            return tried, [f"{target.name}: {type(exc).__name__}\n{notes}\n{text}"]
    return tried, []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--scale", type=float, default=6.0, help="mutants: CI count x SCALE")
    parser.add_argument("--examples", type=int, default=500, help="generated inputs per target")
    parser.add_argument("--target", action="append", choices=[t.name for t in TARGETS])
    args = parser.parse_args(argv)
    chosen = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"seed {chosen} (reproduce with --seed {chosen})", flush=True)
    logging.disable(logging.CRITICAL)  # every malformed input is logged by design

    crashes: list[Crash] = []
    failures: list[str] = []
    rows: list[tuple[str, ...]] = [
        ("target", "mutants", "accepted", "generated", "crashes", "seconds")
    ]
    totals = [0, 0, 0, 0, 0.0]
    started = time.perf_counter()
    for target in TARGETS:
        if args.target and target.name not in args.target:
            continue
        cases = int(CI_CASES[target.name] * args.scale)
        outcome: Outcome = fuzz(target, cases, chosen, on_crash=crashes.append)
        t0 = time.perf_counter()
        examples, failed = _properties(target, args.examples, chosen)
        failures += failed
        seconds = outcome.seconds + time.perf_counter() - t0
        found = len(outcome.crashes) + len(failed)
        rows.append(
            (
                target.name,
                str(outcome.cases),
                str(outcome.accepted),
                str(examples),
                str(found),
                f"{seconds:.1f}",
            )
        )
        for i, value in enumerate((outcome.cases, outcome.accepted, examples, found, seconds)):
            totals[i] += value
        print(f"  {target.name}: done in {seconds:.1f}s", flush=True)
    rows.append(
        (
            "total",
            *(str(int(v)) for v in totals[:4]),
            f"{time.perf_counter() - started:.1f}",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in
                        enumerate(zip(row, widths, strict=True))))  # fmt: skip
    for crash in crashes:
        print(f"\nCRASH {crash.describe()}\n{crash.trace}")
    for failure in failures:
        print(f"\nCRASH (generated input) {failure}")
    return 1 if crashes or failures else 0


if __name__ == "__main__":
    sys.exit(main())
