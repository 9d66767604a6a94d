"""The ratio-table rows of the races against the OpenTelemetry collector.

kubevents first, the collector as the baseline, with the goals of issue 15 (≥ 1.0× its
events/s, ≤ its CPU per event and peak RSS), and what every contender stored against what was
expected (``bench/_collector_race.py`` measures them). Each phase ran ``repeats`` times, the
contenders taking turns: a row's value is the median, its note gives the range and the ratio of
each repetition, so the spread is in the table and not only in the raw results.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import median
from typing import Any

from bench.common import Row

__all__ = ["COLLECTOR", "probe_rows", "race_rows"]

COLLECTOR = "OTel collector"
MIB = 2**20

Phase = dict[str, Any]


def _per_1000(phase: Phase) -> float:
    return 1000 * float(phase["cpu_seconds"]) / max(int(phase["written"]), 1)


def _rate(phase: Phase) -> float:
    return float(phase["written"] / phase["seconds"]) if phase["seconds"] > 0 else 0.0


def _rss(phase: Phase) -> float:
    return float(phase["peak_rss"]) / MIB


def _audited(name: str, runs: list[Phase]) -> str:
    audits = [run["audit"] for run in runs]
    text = [
        f"{a['records']} records, {a['distinct']} of {a['expected']} Events, "
        f"{a['duplicates']} duplicates, {a['missing']} missing"
        for a in audits
    ]
    if len(set(text)) == 1:
        return f"{name}: {text[0]}" + (f" (each of {len(runs)} runs)" if len(runs) > 1 else "")
    return f"{name}: " + " / ".join(text)


def _spread(
    measure: Callable[[Phase], float], kv: list[Phase], peer: list[Phase], fmt: str, lower: bool
) -> str:
    """Range of each contender and the ratio of each repetition (kubevents ahead when > 1)."""
    if len(kv) < 2:
        return "one run"
    a, b = [measure(r) for r in kv], [measure(r) for r in peer]
    ratios = [(y / x if lower else x / y) for x, y in zip(a, b, strict=True) if x and y]
    ratio = f"; per run {min(ratios):.2f}–{max(ratios):.2f}×" if ratios else ""
    return (
        f"median of {len(kv)}: kubevents {min(a):{fmt}}–{max(a):{fmt}}, collector "
        f"{min(b):{fmt}}–{max(b):{fmt}}{ratio}"
    )


def race_rows(race: dict[str, Any], where: str, writes: str) -> list[Row]:
    """Rate, CPU per 1 000, peak RSS and stored-vs-expected for backfill and burst.

    ``where`` names the destination ("into a file"), ``writes`` what each side writes with.
    """
    rows: list[Row] = []
    for phase, how in (("backfill", "pull mode, one unpaged LIST"), ("burst", "watch mode")):
        kv, peer = race[phase]["kubevents"], race[phase]["otelcol"]
        name = f"{COLLECTOR} ({how})"
        kv_rate, peer_rate = median(map(_rate, kv)), median(map(_rate, peer))
        kv_cpu, peer_cpu = median(map(_per_1000, kv)), median(map(_per_1000, peer))
        kv_rss, peer_rss = median(map(_rss, kv)), median(map(_rss, peer))
        seconds = (
            f"{median(r['seconds'] for r in kv):.1f}s vs {median(r['seconds'] for r in peer):.1f}s"
        )
        rows += [
            Row(
                f"{phase} {where}, rate", "events/s", kv_rate, peer_rate, name,
                kv_rate / peer_rate if peer_rate else None, "≥ 1.0× collector",
                peer_rate > 0 and kv_rate >= peer_rate,
                f"{writes}; {seconds}; {_spread(_rate, kv, peer, ',.0f', lower=False)}",
            ),
            Row(
                f"{phase} {where}, CPU per 1000 events", "CPU s", kv_cpu, peer_cpu, name,
                peer_cpu / kv_cpu if kv_cpu else None, "≤ collector", kv_cpu <= peer_cpu,
                "process utime+stime" + (" incl. start-up" if phase == "backfill" else "")
                + f"; {_spread(_per_1000, kv, peer, '.3f', lower=True)}",
            ),
            Row(
                f"{phase} {where}, peak RSS", "MiB", kv_rss, peer_rss, name,
                peer_rss / kv_rss if kv_rss else None, "≤ collector", kv_rss <= peer_rss,
                f"VmHWM; {_spread(_rss, kv, peer, '.1f', lower=True)}",
            ),
        ]  # fmt: skip
        notes = [_audited("kubevents", kv), _audited("collector", peer)]
        if phase == "backfill":
            for key, label in (
                ("otelcol_watch", "collector watch (as documented)"),
                ("otelcol_watch_rv1", "collector watch from resource_version 1"),
            ):
                if key in race["backfill"]:
                    notes.append(_audited(label, race["backfill"][key]))
        clean = all(r["audit"]["missing"] == 0 and r["audit"]["duplicates"] == 0 for r in kv)
        rows.append(
            Row(
                f"{phase} {where}, Events stored",
                "Events",
                min(r["audit"]["distinct"] for r in kv),
                min(r["audit"]["distinct"] for r in peer),
                name,
                None,
                "all, no duplicates",
                clean,
                "; ".join(notes),
            )
        )
    return rows


def probe_rows(probes: list[dict[str, Any]], kubevents_search_rate: float) -> list[Row]:
    """The collector's elasticsearch exporter against engines it may refuse."""
    rows: list[Row] = []
    for search in probes:
        # kubevents' number is its backfill into OpenSearch (the suite's engine); where the
        # collector stores nothing there is no ratio to meet, only its answer to report.
        rate = search["stored"] / search["seconds"] if search["seconds"] > 0 else 0.0
        refused = f"; it logged {search['errors']} errors, the first: {search['first_error']}"
        rows.append(
            Row(
                f"backfill into {search['engine']} (collector), rate",
                "events/s",
                kubevents_search_rate,
                rate,
                f"{COLLECTOR} (elasticsearch exporter)",
                kubevents_search_rate / rate if rate else None,
                "≥ 1.0× collector" if rate else "",
                kubevents_search_rate >= rate if rate else None,
                f"kubevents: its OpenSearch backfill above; the collector stored "
                f"{search['stored']} of {search['expected']}"
                + (refused if search["errors"] else ""),
            )
        )
    return rows
