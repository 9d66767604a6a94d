"""The ratio-table rows of the race against the OpenTelemetry collector.

kubevents first, the collector as the baseline, with the goals of issue 15 (≥ 1.0× its
events/s, ≤ its CPU per event and peak RSS), and what every contender stored against what was
expected (``bench/_collector_race.py`` measures them).
"""

from __future__ import annotations

from typing import Any

from bench.common import Row

__all__ = ["collector_rows"]

COLLECTOR = "OTel collector"


def _per_1000(phase: dict[str, Any]) -> float:
    return 1000 * float(phase["cpu_seconds"]) / max(int(phase["written"]), 1)


def _rate_of(phase: dict[str, Any]) -> float:
    return float(phase["written"] / phase["seconds"]) if phase["seconds"] > 0 else 0.0


def _audited(name: str, phase: dict[str, Any]) -> str:
    a = phase["audit"]
    return (
        f"{name}: {a['records']} records, {a['distinct']} of {a['expected']} Events, "
        f"{a['duplicates']} duplicates, {a['missing']} missing"
    )


def collector_rows(race: dict[str, Any], kubevents_search_rate: float) -> list[Row]:
    """The ratio-table rows: kubevents first, the collector as the baseline."""
    mib = 2**20
    rows: list[Row] = []
    for phase, kv, peer, how in (
        (
            "backfill",
            race["backfill"]["kubevents"],
            race["backfill"]["otelcol_pull"],
            "pull mode, one unpaged LIST",
        ),
        ("burst", race["burst"]["kubevents"], race["burst"]["otelcol"], "watch mode"),
    ):
        name = f"{COLLECTOR} ({how})"
        kv_rate, peer_rate = _rate_of(kv), _rate_of(peer)
        kv_cpu, peer_cpu = _per_1000(kv), _per_1000(peer)
        rows += [
            Row(
                f"{phase} into a file, rate",
                "events/s",
                kv_rate,
                peer_rate,
                name,
                kv_rate / peer_rate if peer_rate else None,
                "≥ 1.0× collector",
                peer_rate > 0 and kv_rate >= peer_rate,
                f"kubevents → JSON Lines (fsync per batch) vs k8sobjects → batch → file (no "
                f"fsync); {kv['seconds']:.1f}s vs {peer['seconds']:.1f}s",
            ),
            Row(
                f"{phase} into a file, CPU per 1000 events",
                "CPU s",
                kv_cpu,
                peer_cpu,
                name,
                peer_cpu / kv_cpu if kv_cpu else None,
                "≤ collector",
                kv_cpu <= peer_cpu,
                "process utime+stime" + (" incl. start-up" if phase == "backfill" else ""),
            ),
            Row(
                f"{phase} into a file, peak RSS",
                "MiB",
                kv["peak_rss"] / mib,
                peer["peak_rss"] / mib,
                name,
                peer["peak_rss"] / kv["peak_rss"] if kv["peak_rss"] else None,
                "≤ collector",
                kv["peak_rss"] <= peer["peak_rss"],
                "VmHWM",
            ),
        ]
        notes = [_audited("kubevents", kv), _audited("collector", peer)]
        if phase == "backfill":
            notes += [
                _audited("collector watch (as documented)", race["backfill"]["otelcol_watch"]),
                _audited(
                    "collector watch from resource_version 1", race["backfill"]["otelcol_watch_rv1"]
                ),
            ]
        audit = kv["audit"]
        rows.append(
            Row(
                f"{phase} into a file, Events stored",
                "Events",
                audit["distinct"],
                peer["audit"]["distinct"],
                name,
                None,
                "all, no duplicates",
                audit["missing"] == 0 and audit["duplicates"] == 0,
                "; ".join(notes),
            )
        )
    for search in race["search"]:
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
