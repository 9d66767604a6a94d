"""The heartbeat's parts without a cluster: its object, the sinks it covers, its way past the
throttles, its age per sink and what health makes of it. (On the real apiserver:
test_heartbeat_cluster.py.)"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from kubevents.errors import StatusError
from kubevents.export import (
    AckLog,
    BufferSettings,
    ConfigError,
    EventFields,
    EventTracker,
    ExportMetrics,
    Occurrence,
    Pipeline,
    Route,
    RuleSet,
    compile_rules,
    load_export_config,
)
from kubevents.export._heartbeat import Heartbeat, heartbeat_object, plan_heartbeat
from kubevents.export._heartbeatconfig import HeartbeatConfig, HeartbeatTarget, heartbeat_target
from kubevents.export._sinkdriver import DriverSettings
from kubevents.export.sinks import Rejected
from kubevents.kube import ENV_SERVICE_ACCOUNT_DIR
from kubevents.model import Event, EventSource, ObjectMeta, ObjectReference, Time
from support import eventually

from .memory_sink import MemorySink, occurrence

FAST = DriverSettings(max_batch_size=10, flush_delay=0.01, max_concurrency=1)
HOUR = 3600.0
TARGET = HeartbeatTarget("Pod", "v1", "kubevents", "kubevents-7d9f")
ON = HeartbeatConfig(enabled=True, interval=1.0, max_age=5.0)  # type: ignore[arg-type]


def beat(count: int, *, at: datetime | None = None, name: str = TARGET.name) -> Occurrence:
    """An occurrence of the heartbeat Event, as the watch shows it."""
    when = Time.of(at or datetime.now(UTC))
    event = Event(
        metadata=ObjectMeta(
            name=f"{name}.1", namespace="kubevents", uid="hb", resource_version=str(count)
        ),
        involved_object=ObjectReference(kind="Pod", namespace="kubevents", name=name),
        reason="KubeventsHeartbeat",
        message="m",
        source=EventSource(component="kubevents-export"),
        first_timestamp=when,
        last_timestamp=when,
        count=count,
        type="Normal",
    )
    return Occurrence.of(EventFields.of(event), event.to_json(), "test")


@pytest.fixture(autouse=True)
def outside_a_pod(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_SERVICE_ACCOUNT_DIR, str(tmp_path / "no-service-account"))


def test_the_pod_comes_from_the_downward_api_and_the_lease_from_leader_election() -> None:
    env = {"POD_NAME": "kubevents-7d9f", "POD_NAMESPACE": "ops", "POD_UID": "u-1"}
    target = heartbeat_target(ON, lease_name=None, lease_namespace=None, environ=env)
    assert target == HeartbeatTarget("Pod", "v1", "ops", "kubevents-7d9f", "u-1")
    assert target.reference().uid == "u-1"
    named = HeartbeatConfig(enabled=True, name="other", namespace="x")
    # A pod named in the configuration is not the one the downward API describes: no uid.
    assert heartbeat_target(named, lease_name=None, lease_namespace=None, environ=env).uid == ""
    lease = heartbeat_target(ON, lease_name="kubevents", lease_namespace="ops", environ=env)
    assert (lease.kind, lease.api_version, lease.namespace, lease.name) == (
        "Lease", "coordination.k8s.io/v1", "ops", "kubevents",
    )  # fmt: skip
    pod = HeartbeatConfig(enabled=True, object="pod")
    assert (
        heartbeat_target(pod, lease_name="kubevents", lease_namespace="ops", environ=env).kind
        == "Pod"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "heartbeat.name: not set, and $POD_NAME is empty"),
        ({"POD_NAME": "p"}, "heartbeat.namespace: not set, $POD_NAMESPACE is empty"),
        ({"POD_NAME": "Not_A_Name", "POD_NAMESPACE": "ops"}, "heartbeat.name: 'Not_A_Name'"),
    ],
)
def test_an_unknown_pod_is_a_configuration_error(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("$", r"\$")):
        heartbeat_target(ON, lease_name=None, lease_namespace=None, environ=environ)


@pytest.mark.parametrize(
    ("heartbeat", "message"),
    [
        ({"interval": "50ms"}, "heartbeat.interval: must be at least 100ms"),
        (
            {"interval": "2h", "max_age": "5h"},
            "heartbeat.interval: must be at least 100ms and at most 1h",
        ),
        ({"interval": "1s", "max_age": "1500ms"}, "heartbeat.max_age: must be at least twice"),
        ({"reason": "not a reason"}, "heartbeat.reason: 1-128 letters and digits"),
        ({"namespace": "Ops"}, "heartbeat.namespace: 'Ops' is not a namespace"),
        ({"object": "lease"}, "heartbeat.object: lease needs leader_election.enabled"),
        ({"object": "node"}, "heartbeat.object: Invalid enum value 'node'"),
    ],
)
def test_bad_heartbeat_settings_name_the_field(heartbeat: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_export_config(overrides={"heartbeat": {"enabled": True, **heartbeat}}, environ={})


def test_off_by_default_and_on_needs_nothing_more_with_leader_election() -> None:
    assert heartbeat_object(load_export_config(environ={})) is None
    config = load_export_config(
        overrides={
            "heartbeat": {"enabled": True},
            "leader_election": {"enabled": True, "namespace": "ops", "lease_name": "kv"},
        },
        environ={},
    )
    assert heartbeat_object(config) == HeartbeatTarget(
        "Lease", "coordination.k8s.io/v1", "ops", "kv"
    )


Sinks = tuple[str, dict[str, object] | None]  # a sink's name and its rules


def routes(*sinks: Sinks) -> list[Route]:
    return [
        Route(
            MemorySink(name),
            rules=None if rules is None else compile_rules(msgspec.convert(rules, RuleSet)),
        )
        for name, rules in sinks
    ]


def plan(config: dict[str, object], *sinks: Sinks) -> Heartbeat | None:
    heartbeat = {"enabled": True, "name": TARGET.name, "namespace": TARGET.namespace}
    cfg = load_export_config(overrides={"heartbeat": heartbeat, **config}, environ={})
    target = heartbeat_object(cfg)
    assert target == TARGET
    return plan_heartbeat(cfg, target, routes(*sinks), ExportMetrics())


def test_a_sink_whose_rules_exclude_the_heartbeat_has_no_age() -> None:
    heartbeat = plan(
        {},
        ("store", None),
        ("pager", {"match": [{"type": "Warning"}]}),
        ("quiet", {"drop": [{"reason": "Kubevents*"}]}),
        ("ops", {"match": [{"namespace": "kubevents"}]}),
    )
    assert heartbeat is not None
    assert heartbeat.sinks == ["store", "ops"]
    assert set(heartbeat.ages()) == {"store", "ops"}


@pytest.mark.parametrize(
    ("config", "why"),
    [
        (
            {"rules": {"drop": [{"name": "no-beats", "source": "kubevents-*"}]}},
            "top-level rule no-beats",
        ),
        ({"namespace": "shop"}, "watches namespace 'shop' only"),
        ({}, "every sink's rules exclude it"),
    ],
)
def test_a_heartbeat_no_sink_can_receive_is_off_and_required_it_is_exit_2(
    config: dict[str, object], why: str
) -> None:
    sinks = [("pager", {"match": [{"type": "Warning"}]})] if not config else [("store", None)]
    assert plan(config, *sinks) is None
    required = {"heartbeat": {"enabled": True, "required": True, "name": TARGET.name,
                              "namespace": TARGET.namespace}}  # fmt: skip
    cfg = load_export_config(overrides={**config, **required}, environ={})
    with pytest.raises(ConfigError, match=f"heartbeat.required: no sink can receive.*{why}"):
        plan_heartbeat(cfg, TARGET, routes(*sinks), ExportMetrics())


async def test_heartbeats_pass_the_throttle_and_each_sink_ages_on_its_own_writes() -> None:
    throttled, failing = MemorySink("throttled"), MemorySink("failing")
    metrics = ExportMetrics()
    heartbeat = Heartbeat(ON, TARGET, ["throttled", "failing"], metrics)
    pipeline = Pipeline(
        [
            Route(throttled, BufferSettings("block", 100), FAST, min_interval=HOUR),
            Route(failing, BufferSettings("block", 100), FAST),
        ],
        EventTracker(), AckLog("0"), metrics,
    )  # fmt: skip
    pipeline.watch_heartbeats(heartbeat.matches, heartbeat.stored)
    failing.reject_ids = {"hb:1", "hb:2", "hb:3"}  # refused for good: not stored, no age
    await pipeline.start()
    try:
        old = datetime(2024, 1, 1, tzinfo=UTC)
        for count in (1, 2, 3):
            await pipeline.submit(beat(count, at=old), str(count))
        # Another Event's bumps are still throttled meanwhile.
        for count in (1, 2, 3):
            await pipeline.submit(occurrence("other", count), str(10 + count))
        await eventually(lambda: {"hb:1", "hb:2", "hb:3"} <= set(throttled.stored), "all beats")
        assert {i for i in throttled.stored if i.startswith("other")} == {"other:1"}
        written = {"hb:1", "hb:2", "hb:3"}
        await eventually(
            lambda: written <= {i for w in failing.writes for i in w}, "the refused writes"
        )
        # Beats from before the start (an earlier run's) do not make a sink fresher than the
        # start, and refused ones count for nothing: both ages still count from the start.
        ages = heartbeat.ages()
        since_start = time.time() - heartbeat.started
        assert ages["throttled"] == pytest.approx(since_start, abs=0.5)
        assert ages["failing"] == pytest.approx(since_start, abs=0.5)

        heartbeat.started -= 60  # as if the exporter had been running for a minute
        assert heartbeat.ages()["failing"] >= 60
        await pipeline.submit(beat(4), "20")
        await eventually(lambda: "hb:4" in failing.stored, "the fresh beat")
        await eventually(lambda: heartbeat.ages()["failing"] < 5, "the failing sink's age")
        assert heartbeat.ages()["throttled"] < 5
        scraped = metrics.registry.get_sample_value(
            "kubevents_heartbeat_age_seconds", {"sink": "failing"}
        )
        assert scraped is not None and scraped < 5
    finally:
        await pipeline.stop()


def test_health_follows_the_age_only_when_required() -> None:
    metrics = ExportMetrics()
    lenient = Heartbeat(ON, TARGET, ["store", "hook"], metrics)
    lenient.started -= 60
    assert min(lenient.ages().values()) >= 60 and lenient.problems() == []
    strict = Heartbeat(
        HeartbeatConfig(enabled=True, interval=1.0, max_age=5.0, required=True),  # type: ignore[arg-type]
        TARGET, ["store", "hook"], ExportMetrics(),
    )  # fmt: skip
    strict.started -= 60
    strict.stored("store", [beat(7)], [])
    strict.stored("hook", [beat(7)], [Rejected(beat(7), "refused")])  # not stored
    strict.stored("elsewhere", [beat(8)], [])  # not a covered sink: ignored
    (problem,) = strict.problems()
    assert problem.startswith("heartbeat: sink hook has stored no heartbeat for 6")
    assert "(heartbeat.max_age 5s)" in problem
    assert set(strict.ages()) == {"store", "hook"}


def test_once_forbidden_it_reports_nothing_and_fails_nothing() -> None:
    metrics = ExportMetrics()
    heartbeat = Heartbeat(
        HeartbeatConfig(enabled=True, interval=1.0, max_age=5.0, required=True),  # type: ignore[arg-type]
        TARGET, ["store"], metrics,
    )  # fmt: skip
    heartbeat.started -= 60
    assert heartbeat.problems()
    heartbeat.failed(StatusError(503, "ServiceUnavailable"), "patch")
    assert heartbeat.enabled
    heartbeat.failed(StatusError(403, "Forbidden"), "patch")
    heartbeat.failed(StatusError(403, "Forbidden"), "patch")  # counted and logged once
    assert not heartbeat.enabled
    assert heartbeat.ages() == {} and heartbeat.problems() == []
    samples = metrics.registry.get_sample_value
    assert samples("kubevents_heartbeat_failures_total", {"reason": "forbidden"}) == 1
    assert samples("kubevents_heartbeat_failures_total", {"reason": "failed"}) == 1
    assert samples("kubevents_heartbeat_enabled") == 0
    assert samples("kubevents_heartbeat_age_seconds", {"sink": "store"}) is None
