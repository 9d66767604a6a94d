"""Run the benchmarks, print the ratio table, write ``bench/results/<suite>.json``.

    python bench/run.py              # every suite
    python bench/run.py recorder     # one suite
    python bench/run.py --quick      # fewer iterations (a smoke run)
    python bench/run.py --table      # no run: the table of the saved results (docs/benchmarks.md)

Each suite measures kubevents and its baselines (client-go, peers, ceilings) in the same run on
the same machine, so the ratios are comparable; absolute numbers are not portable.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

# Run as a script, this file's directory is on sys.path but the repository (bench, xcheck) is
# not.
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from bench.common import (  # noqa: E402
    BenchContext,
    Suite,
    machine,
    read_results,
    table,
    write_results,
)

# name -> module with NAME and run(ctx) -> Suite.
SUITES = {
    "recorder": "bench.recorder",
    "pipeline": "bench.pipeline",
    "exporter": "bench.exporter",
    # After the exporter: it lists every Event of the shared cluster, the backfill's included.
    "listing": "bench.listing",
    "kafka": "bench.kafka",
    "store": "bench.store",
    "enrich": "bench.enrich",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", choices=[[], *SUITES], help="default: all")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--table", action="store_true", help="print the saved results' table")
    args = parser.parse_args()
    names = args.suites or list(SUITES)
    if args.table:
        print(table([read_results(name) for name in names]))
        return

    began = time.perf_counter()
    info = machine()
    ctx = BenchContext(quick=args.quick)
    results: list[Suite] = []
    try:
        for name in names:
            module = importlib.import_module(SUITES[name])
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            suite: Suite = module.run(ctx)
            path = write_results(suite, {**info, "quick": args.quick}, quick=args.quick)
            print(f"bench: {name}: {suite.seconds:.0f}s, wrote {path}", file=sys.stderr)
            results.append(suite)
    finally:
        ctx.close()
    print(table(results))
    print(
        f"\n{info['cores']} cores, {info['memory_gib']} GiB, {info['cpu']}; python "
        f"{info['python']}, {info['go']}; total {time.perf_counter() - began:.0f}s"
    )


if __name__ == "__main__":
    main()
