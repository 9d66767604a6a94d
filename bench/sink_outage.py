"""A webhook down for longer than Events live, at full size: what each buffer policy keeps.

    python bench/sink_outage.py                    # every scenario (~30 min)
    python bench/sink_outage.py --only spool-3m block-3m
    python bench/sink_outage.py --scale 0.1 --output /tmp/o.json   # a quick try

A real apiserver with ``--event-ttl=1m`` and ``--etcd-compaction-interval=30s``; Event creates and
count bumps at 20/s; the exporter in-process with a SQLite store and a webhook sink; the webhook
answers 503 for the scenario's outage, then accepts. An independent watch, never interrupted,
records every occurrence the server showed; afterwards the webhook's deliveries are compared
with it (missing, duplicated, out of order per Event).

Scenarios (``docs/exporter.md``, "Sink outages", has the figures):

- ``block-3m``: a 3-minute outage, ``queue_size: 200``, ``watch_timeout: 60s``, the memory
  buffer that blocks (no spool): the loss the spool exists to prevent;
- ``spool-3m``: the same with the spool (the default for a webhook);
- ``spool-12m``: a 12-minute outage with the exporter's defaults;
- ``refuse-2m``: the webhook answers 401 for 2 minutes (defaults, a dead-letter file): its
  batches go to the dead letters after ``retry.permanent_attempts``, health names it, and
  every second the bench checks that SQLite holds what the server showed 2 s before.

Writes ``bench/results/sink_outage.json`` (or ``--output``) and exits 1 if a spool scenario
lost or duplicated an occurrence.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from bench._chaos_support import (  # noqa: E402
    Flood,
    Receiver,
    WatchLog,
    observed_namespace,
    stored_ids,
)

from kubevents.export import Exporter, load_export_config  # noqa: E402
from kubevents.kube import KubeClient  # noqa: E402
from kubevents_testenv import LocalCluster  # noqa: E402

RATE = 20.0
EVENT_TTL = "1m"
COMPACTION_INTERVAL = "30s"
LEAD_IN = 10.0  # seconds of flood before the outage starts
SAMPLE_IDS = 20
CATCH_UP = 600.0
SQLITE_WITHIN = 2.0  # seconds: the flush delay (1 s) and a margin


@dataclass(frozen=True)
class Scenario:
    name: str
    outage_minutes: float
    exporter: dict[str, Any]
    status: int = 503  # what the webhook answers during the outage


SCENARIOS = {
    "block-3m": Scenario("block-3m", 3, {
        "buffer": {"queue_size": 200}, "watch_timeout": "60s",
        "webhook_buffer": {"when_full": "block"},
    }),
    "spool-3m": Scenario("spool-3m", 3, {"buffer": {"queue_size": 200}, "watch_timeout": "60s"}),
    "spool-12m": Scenario("spool-12m", 12, {}),
    "refuse-2m": Scenario("refuse-2m", 2, {"dead_letter": "dead-letters.jsonl"}, status=401),
}  # fmt: skip


@dataclass
class Outcome:
    scenario: str
    outage_seconds: float
    shown: int
    delivered: int
    missing: int
    duplicated: int
    out_of_order: int
    sqlite_missing: int
    events_deleted_by_ttl: int
    relists_gone: float
    seconds: float
    dead_lettered: int  # occurrences in the dead letters (counted as accounted for, not missing)
    # Most occurrences the server had shown SQLITE_WITHIN seconds earlier that SQLite did not
    # hold yet, over the outage's once-a-second looks (0: SQLite kept up within that time).
    sqlite_behind: int
    health_named_webhook: bool  # /healthz named the failing webhook during the outage
    # The ids behind a nonzero count, so that a miss can be traced afterwards (at most
    # SAMPLE_IDS each): shown and never delivered, and delivered (or dead-lettered) but never
    # shown by the independent watch; with each shown id's Event: what SQLite and the webhook
    # hold of it.
    missing_ids: list[str]
    unshown_ids: list[str]
    missing_context: dict[str, dict[str, list[str]]]

    @property
    def lossless(self) -> bool:
        return self.missing == 0 and self.duplicated == 0 and self.out_of_order == 0


def _config(tmp: Path, cluster: LocalCluster, namespace: str, url: str, s: Scenario) -> Any:
    options = dict(s.exporter)
    webhook: dict[str, Any] = {"type": "webhook", "url": url, "timeout": "2s"}
    if "webhook_buffer" in options:
        webhook["buffer"] = options.pop("webhook_buffer")
    if "dead_letter" in options:
        options["dead_letter"] = str(tmp / options["dead_letter"])
        options["health"] = {"sink_failing_after": "30s"}
    raw = {
        "cluster_name": "outage", "kubeconfig": str(cluster.kubeconfig), "namespace": namespace,
        "checkpoint": str(tmp / "events.checkpoint"), "listen": None,
        "sinks": [{"type": "sqlite", "path": str(tmp / "events.db")}, webhook], **options,
    }  # fmt: skip
    path = tmp / "config.yaml"
    path.write_bytes(json.dumps(raw).encode())
    return load_export_config(path, environ={})


async def _caught_up(
    exporter: Exporter, watch_log: WatchLog, receiver: Receiver, shown: set[str]
) -> bool:
    """Everything shown delivered, or (where the policy loses some) nothing left to deliver:
    the buffers are empty and every Event still on the server arrived at its current count."""
    if shown <= receiver.deliveries.keys():
        return True
    if exporter.pipeline is None or not exporter.pipeline.idle():
        return False
    finals = await watch_log.finals()
    return {f"{uid}:{count}" for uid, count in finals.items()} <= receiver.deliveries.keys()


async def _run(cluster: LocalCluster, scenario: Scenario, tmp: Path, scale: float) -> Outcome:
    started = time.monotonic()
    async with (
        await KubeClient.connect(cluster.kubeconfig) as kube,
        observed_namespace(kube, "outage") as seen,
    ):
        namespace, watch_log, receiver = seen.namespace, seen.watch_log, seen.receiver
        config = _config(tmp, cluster, namespace, receiver.url, scenario)
        exporter = Exporter(config, client=kube)
        stop = asyncio.Event()
        running = asyncio.create_task(exporter.run(stop))
        # The flood starts once the exporter has listed: counts an Event reached before that
        # are beyond any exporter (a LIST shows the latest only), not a loss of this one.
        starting = asyncio.create_task(exporter.wait_started())
        await asyncio.wait([running, starting], return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            starting.cancel()
            running.result()
        listed_by = time.monotonic() + 60
        while not exporter.health().ready:
            if time.monotonic() > listed_by:
                raise RuntimeError("the exporter did not list the namespace within 60 s")
            await asyncio.sleep(0.05)
        outage = scenario.outage_minutes * 60 * scale
        flood = Flood(kube, namespace, int(RATE * (outage + 2 * LEAD_IN)), RATE, 4,
                      random.Random(7))  # fmt: skip
        flooding = asyncio.create_task(flood.run())
        await asyncio.sleep(LEAD_IN)
        receiver.status = scenario.status
        print(f"{scenario.name}: webhook answers {scenario.status} for {outage:.0f}s",
              file=sys.stderr, flush=True)  # fmt: skip
        behind_max, named = 0, False
        looks: deque[tuple[float, set[str]]] = deque()
        ends = time.monotonic() + outage
        while time.monotonic() < ends:
            await asyncio.sleep(1)
            now = time.monotonic()
            looks.append((now, set(watch_log.shown)))
            stored = set(stored_ids(tmp / "events.db"))
            while looks and looks[0][0] <= now - SQLITE_WITHIN:
                behind_max = max(behind_max, len(looks.popleft()[1] - stored))
            named = named or any("sink webhook" in p for p in exporter.health().problems)
        receiver.status = 204
        await flooding
        shown = set(watch_log.shown)
        deadline = time.monotonic() + CATCH_UP
        while not await _caught_up(exporter, watch_log, receiver, shown):
            if time.monotonic() > deadline:
                print(f"{scenario.name}: not caught up after {CATCH_UP:g}s", file=sys.stderr)
                break
            await asyncio.sleep(1)
        stop.set()
        await running
        relists = exporter.metrics.registry.get_sample_value(
            "kubevents_relists_total", {"reason": "gone"}
        )
        finals = await watch_log.finals()
    delivered = receiver.deliveries
    lettered = _dead_lettered(tmp / "dead-letters.jsonl")
    stored = set(stored_ids(tmp / "events.db"))
    missing_ids = sorted((shown - delivered.keys() - lettered) | (shown - stored))[:SAMPLE_IDS]
    return Outcome(
        scenario.name,
        outage,
        len(shown),
        len(delivered),
        len(shown - delivered.keys() - lettered),
        sum(1 for n in delivered.values() if n > 1),
        len(receiver.out_of_order()),
        len(shown - stored),
        len(flood.finals) - len(finals),
        relists or 0.0,
        time.monotonic() - started,
        len(lettered),
        behind_max,
        named,
        missing_ids,
        sorted((delivered.keys() | lettered | stored) - shown)[:SAMPLE_IDS],
        {i: _context(i, shown, stored, delivered.keys() | lettered) for i in missing_ids},
    )


def _context(
    missing: str, shown: set[str], stored: set[str], sent: set[str]
) -> dict[str, list[str]]:
    uid = missing.rsplit(":", 1)[0] + ":"
    return {
        "shown": sorted(i for i in shown if i.startswith(uid)),
        "sqlite": sorted(i for i in stored if i.startswith(uid)),
        "webhook": sorted(i for i in sent if i.startswith(uid)),
    }


def _dead_lettered(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {json.loads(line)["document"]["id"] for line in path.read_bytes().splitlines()}


def _write(output: Path, outcomes: list[Outcome]) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps([asdict(o) for o in outcomes], indent=2) + "\n")


async def main(names: list[str], output: Path, scale: float) -> int:
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="kubevents-outage-") as tmp:
        root = Path(tmp)
        with LocalCluster(
            root / "cluster",
            extra_apiserver_args=(
                f"--event-ttl={EVENT_TTL}", f"--etcd-compaction-interval={COMPACTION_INTERVAL}"
            ),
        ) as cluster:  # fmt: skip
            for name in names:
                work = root / name
                work.mkdir()
                outcome = await _run(cluster, SCENARIOS[name], work, scale)
                outcomes.append(outcome)
                print(json.dumps(asdict(outcome)), flush=True)
    _write(output, outcomes)
    print(f"\n{'scenario':<10} {'outage':>7} {'shown':>7} {'missing':>8} {'dup':>4} "
          f"{'late':>5} {'sqlite':>7} {'ttl-deleted':>11} {'410s':>5}")  # fmt: skip
    for o in outcomes:
        print(f"{o.scenario:<10} {o.outage_seconds:>6.0f}s {o.shown:>7} {o.missing:>8} "
              f"{o.duplicated:>4} {o.out_of_order:>5} {o.sqlite_missing:>7} "
              f"{o.events_deleted_by_ttl:>11} {o.relists_gone:>5.0f}")  # fmt: skip
    for o in outcomes:
        if o.dead_lettered:
            print(
                f"{o.scenario}: {o.dead_lettered} dead-lettered; occurrences shown "
                f"{SQLITE_WITHIN:g}s earlier and not in SQLite yet: at most {o.sqlite_behind}; "
                f"health named the webhook: {o.health_named_webhook}"
            )
    failed = [o.scenario for o in outcomes if not o.scenario.startswith("block") and not o.lossless]
    if failed:
        print(f"FAILED: {', '.join(failed)} lost, duplicated or reordered occurrences")
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument(
        "--output", type=Path, default=Path(_REPO) / "bench" / "results" / "sink_outage.json"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="outage length factor")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.only, args.output, args.scale)))
