"""What every benchmark suite shares: result rows, the ratio table, the machine, the cluster.

A suite is a module with ``NAME`` and ``run(ctx: BenchContext) -> Suite`` (see ``run.py``). Rows
carry kubevents' number, the baseline measured in the same run (client-go, a peer exporter, a
raw ceiling) and the target from issue 7, so that one table serves every suite.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubevents_testenv import LocalCluster

__all__ = [
    "REPO",
    "RESULTS",
    "BenchContext",
    "Row",
    "Suite",
    "machine",
    "percentile",
    "read_results",
    "rss_bytes",
    "table",
]

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


@dataclass
class Row:
    """One measured quantity.

    ``ratio`` is kubevents / baseline when "higher is better" and baseline / kubevents when
    "lower is better", so a ratio above 1 always means kubevents is ahead. ``target`` is the
    issue's bar in words; ``met`` is None where there is no bar.
    """

    metric: str
    unit: str
    kubevents: float
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Suite:
    name: str
    rows: list[Row]
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


class BenchContext:
    """Shared by the suites of one run: the real local cluster is started once, on first use."""

    def __init__(self, *, quick: bool = False) -> None:
        self.quick = quick
        self._cluster: LocalCluster | None = None

    def cluster(self) -> LocalCluster:
        if self._cluster is None:
            cluster = LocalCluster()
            cluster.start()
            self._cluster = cluster
        return self._cluster

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = None


def percentile(sorted_values: list[int], fraction: float) -> int:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


def rss_bytes() -> int:
    """Current resident set size (Linux /proc; the benchmarks run where the cluster runs)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _run(*args: str) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    mem_total = 0
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1]) * 1024
    import msgspec

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "nproc": _run("nproc"),
        "cpu": cpu,
        "memory_gib": round(mem_total / 2**30, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "msgspec": msgspec.__version__,
        "go": _run("go", "env", "GOVERSION"),
    }


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if float(value).is_integer():
        text = f"{int(value):,}"
    elif abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def table(suites: list[Suite]) -> str:
    """The ratio table as Markdown (it is pasted into docs/benchmarks.md as is)."""
    lines = [
        "| suite | metric | kubevents | baseline (same run) | ratio | target | met | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for suite in suites:
        for row in suite.rows:
            baseline = "-"
            if row.baseline is not None:
                baseline = f"{_fmt(row.baseline, row.unit)} ({row.baseline_name})"
            ratio = "-" if row.ratio is None else f"{row.ratio:.2f}×"
            if row.ratio is not None and row.met is False and round(row.ratio, 2) > row.ratio:
                # Rounded up, a miss could read as its goal (0.496× as 0.50×).
                ratio = f"{row.ratio:.3f}×"
            met = {None: "", True: "yes", False: "**no**"}[row.met]
            lines.append(
                f"| {suite.name} | {row.metric} | {_fmt(row.kubevents, row.unit)} | {baseline} "
                f"| {ratio} | {row.target} | {met} | {row.note} |"
            )
    return "\n".join(lines)


def write_results(suite: Suite, info: dict[str, Any], *, quick: bool = False) -> Path:
    """``results/<suite>.json``; a quick run writes ``<suite>-quick.json`` and so never replaces
    the full run that docs/benchmarks.md quotes."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{suite.name}{'-quick' if quick else ''}.json"
    document = {"machine": info, **asdict(suite)}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_results(name: str) -> Suite:
    """A suite as its last full run wrote it (``results/<name>.json``)."""
    document = json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))
    rows = [Row(**row) for row in document["rows"]]
    return Suite(document["name"], rows, document["seconds"], document["details"])


class Stopwatch:
    def __init__(self) -> None:
        self.began = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.began
