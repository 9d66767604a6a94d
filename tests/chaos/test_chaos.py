"""The chaos run at CI size: kills, a compaction and a sink outage during a flood, lose nothing.

``make chaos`` runs the same driver with 50 000 operations and 20 kills (docs/reliability.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.chaos import ChaosPlan, run_chaos, summary

from kubevents_testenv import LocalCluster

pytestmark = pytest.mark.cluster

CI_PLAN = ChaosPlan(operations=5_000, kills=5, rate=120.0, outage_seconds=10.0, seed=20261204)


async def test_kills_a_compaction_and_an_outage_during_a_flood_lose_nothing(
    local_cluster: LocalCluster, tmp_path: Path
) -> None:
    report = await run_chaos(local_cluster, tmp_path, CI_PLAN, say=print)
    print(summary(report))
    assert report.problems() == [], (tmp_path / "exporter.log").read_text()[-5000:]
    assert report.kills == CI_PLAN.kills and report.compaction_revision > 0
    assert report.events > 0 and report.occurrences_written > report.events  # bumps happened
    assert report.failed_writes == 0
