"""Writes the parity traces in ``xcheck/traces/`` (``python -m xcheck.gen_traces``).

The JSON files are the source of truth and are committed; this script only exists because
loops are easier to review than hundreds of JSON lines. Both drivers read the expanded steps,
so nothing here can make them disagree.

Every trace keeps the observable API calls independent of which message client-go's
aggregator pops from its set once it is full (a random map entry in Go, an arbitrary set entry
in kubevents): after a group first reaches 10 distinct messages, only new messages follow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TRACES = Path(__file__).resolve().parent / "traces"
START = "2024-01-01T00:00:00Z"
SOURCE = {"component": "xcheck", "host": "node-a"}

Step = dict[str, Any]


def obj(name: str, kind: str = "Pod", api_version: str = "v1", **extra: str) -> dict[str, str]:
    ref = {"kind": kind, "namespace": "$ns", "name": name, "uid": f"uid-{name}"}
    ref["apiVersion"] = api_version
    ref.update(extra)
    return ref


def step(
    ref: dict[str, str],
    type_: str,
    reason: str,
    message: str,
    advance: int = 0,
    source: dict[str, str] | None = None,
) -> Step:
    out: Step = {"object": ref, "type": type_, "reason": reason, "message": message}
    if advance:
        out["advance"] = advance
    if source is not None:
        out["source"] = source
    return out


def repeats() -> tuple[str, list[Step], dict[str, int]]:
    web0, web1 = obj("web-0"), obj("web-1")
    steps: list[Step] = []
    for i in range(12):
        steps.append(step(web0, "Warning", "BackOff", "Back-off restarting failed container", 1))
        if i % 4 == 0:
            steps.append(step(web1, "Normal", "Pulled", "Successfully pulled image nginx:1.27"))
    return (
        "The same event again and again: one create, then a patch of count, lastTimestamp and "
        "message for every repeat (web-0: count 12, web-1: count 3).",
        steps,
        {"creates": 2, "patches": 13, "failed": 0},
    )


def aggregation() -> tuple[str, list[Step], dict[str, int]]:
    web0, db0 = obj("web-0"), obj("db-0")
    steps: list[Step] = []

    def mount(ref: dict[str, str], i: int) -> Step:
        msg = f'MountVolume.SetUp failed for volume "vol-{i}" : not found'
        return step(ref, "Warning", "FailedMount", msg, 1)

    steps += [mount(web0, i) for i in range(6)]
    # A repeat below the threshold dedups onto its own event and does not grow the group.
    steps.append(mount(web0, 3))
    steps += [mount(web0, i) for i in range(6, 9)]
    steps.append(step(web0, "Warning", "FailedScheduling", "0/3 nodes are available", 1))
    # The 10th distinct message creates the combined event; every later (new) one patches it.
    steps += [mount(web0, i) for i in range(9, 15)]
    steps.append(step(web0, "Warning", "FailedScheduling", "0/4 nodes are available", 1))
    steps += [mount(db0, i) for i in range(11)]
    return (
        "More than 10 similar messages (same object, type and reason) within 10 minutes become "
        "one '(combined from similar events)' event, counted by patches.",
        steps,
        {"creates": 22, "patches": 7, "failed": 0},
    )


def aggregation_window() -> tuple[str, list[Step], dict[str, int]]:
    web0 = obj("web-0")
    steps: list[Step] = []

    def msg(i: int, advance: int) -> Step:
        return step(web0, "Warning", "FailedMount", f"volume vol-{i} is not attached", advance)

    steps += [msg(i, 1) for i in range(10)]  # 9 creates, then the combined event
    steps.append(msg(10, 600))  # a gap of exactly 600 s keeps the group: patch, count 2
    steps.append(msg(11, 601))  # 601 s: a fresh group, so a plain create
    steps += [msg(i, 1) for i in range(12, 20)]  # 8 more creates
    # The group is full again: the combined event's dedup key is the group's, so this patches
    # the combined event made 20 minutes earlier (count 3), not a new one.
    steps.append(msg(20, 1))
    return (
        "Clock advances around the 600 s aggregation window: a gap of exactly 600 s keeps a "
        "group alive, 601 s starts a new one.",
        steps,
        {"creates": 19, "patches": 2, "failed": 0},
    )


def spam() -> tuple[str, list[Step], dict[str, int]]:
    web0, web1 = obj("web-0"), obj("web-1")
    steps: list[Step] = []
    # 30 distinct reasons (no aggregation, no dedup): the bucket of 25 lets 25 through.
    steps += [step(web0, "Normal", f"Reason{i:02d}", "spam", 0) for i in range(30)]
    steps.append(step(web0, "Normal", "Reason30", "spam", 299))  # 0.997 tokens: skipped
    steps.append(step(web0, "Normal", "Reason31", "spam", 1))  # 300 s: one token
    steps.append(step(web0, "Normal", "Reason32", "spam", 0))  # empty again
    steps.append(step(web0, "Normal", "Reason33", "spam", 600))  # two tokens
    steps.append(step(web0, "Normal", "Reason34", "spam", 0))
    steps.append(step(web0, "Normal", "Reason35", "spam", 0))  # skipped
    # Another source has a bucket of its own for the same object.
    node_b = {"component": "xcheck", "host": "node-b"}
    steps.append(step(web0, "Normal", "Reason36", "spam", 0, source=node_b))
    # The same event 30 times: skipped repeats still count, so the repeat that gets a token
    # 300 s later patches count 31.
    steps += [step(web1, "Warning", "BackOff", "Back-off pulling image", 0) for _ in range(30)]
    steps.append(step(web1, "Warning", "BackOff", "Back-off pulling image", 300))
    # Each type has a bucket of its own.
    steps.append(step(web1, "Normal", "Started", "Started container app", 0))
    return (
        "The spam filter: 25 events per source, object and type at once, then one per 300 s "
        "(a refill of 1/300 token per second, as float32).",
        steps,
        {"creates": 31, "patches": 25, "failed": 0},
    )


def many_objects() -> tuple[str, list[Step], dict[str, int]]:
    pods = [obj(f"pod-{i:03d}") for i in range(150)]
    steps: list[Step] = []
    for i, ref in enumerate(pods):
        msg = f"Successfully assigned pod-{i:03d} to node-{i % 7}"
        steps.append(step(ref, "Normal", "Scheduled", msg, 1 if i % 10 == 0 else 0))
    for ref in pods:
        steps.append(step(ref, "Normal", "Pulled", "Container image already present", 0))
    for ref in pods[::5]:
        steps.append(step(ref, "Warning", "BackOff", "Back-off restarting failed container", 5))
        steps.append(step(ref, "Warning", "BackOff", "Back-off restarting failed container", 5))
    for ref in pods[:30]:
        steps.append(step(ref, "Normal", "Pulled", "Container image already present", 2))
    return (
        "150 objects with a few events each: creates, repeats (patches) and per-object state "
        "kept apart.",
        steps,
        {"creates": 330, "patches": 60, "failed": 0},
    )


def lru_eviction() -> tuple[str, list[Step], dict[str, int]]:
    pods = [obj(f"job-{i:02d}") for i in range(12)]
    steps: list[Step] = []
    for _ in range(2):
        steps += [step(ref, "Normal", "Completed", "Job completed", 1) for ref in pods]
    steps += [step(pods[-1], "Normal", "Completed", "Job completed", 1)]
    return (
        "Correlator caches of 8 entries: a repeat whose key was evicted is a new event "
        "(create, count 1), one still cached is a patch.",
        steps,
        {"creates": 24, "patches": 1, "failed": 0},
    )


def mixed() -> tuple[str, list[Step], dict[str, int]]:
    deploy = obj("web", kind="Deployment", api_version="apps/v1", resourceVersion="1042")
    cm = obj("settings", kind="ConfigMap")
    widget_a = obj("w1", kind="Widget", api_version="example.com/v1", fieldPath="spec.parts{a}")
    widget_b = obj("w1", kind="Widget", api_version="example.com/v1", fieldPath="spec.parts{b}")
    bad_name = obj("Cache_A", kind="Widget", api_version="example.com/v1")
    clash = obj("clash")
    quiet = obj("quiet")
    node_b = {"component": "other-controller", "host": "node-b"}
    steps: list[Step] = [
        step(deploy, "Normal", "ScalingReplicaSet", "Scaled up replica set web-7d9 to 3", 1),
        step(cm, "Warning", "FailedValidation", 'key "port": <80> & "8080" differ', 1),
        step(widget_a, "Normal", "Synced", "synced", 1),
        # Another fieldPath is another event (the dedup key has it, the spam key does not).
        step(widget_b, "Normal", "Synced", "synced", 1),
        step(deploy, "Normal", "ScalingReplicaSet", "Scaled up replica set web-7d9 to 3", 1),
        step(widget_a, "Normal", "Synced", "synced", 1),
        # The same event from two sources: two events, each with its own count.
        step(deploy, "Warning", "Unhealthy", "Readiness probe failed: naïve \t ☃", 1),
        step(deploy, "Warning", "Unhealthy", "Readiness probe failed: naïve \t ☃", 1, node_b),
        step(deploy, "Warning", "Unhealthy", "Readiness probe failed: naïve \t ☃", 1, node_b),
        # An empty message is omitted from the dedup patch (omitempty).
        step(quiet, "Normal", "Ping", "", 1),
        step(quiet, "Normal", "Ping", "", 1),
        # The same reason as Normal and as Warning: separate groups and buckets.
        step(quiet, "Warning", "Ping", "", 1),
    ]
    # Not a DNS-1123 name: recorded events get a UUID name instead, but the combined event is
    # named "Cache_A.<hex>" unvalidated (the apiserver accepts that name for Events).
    steps += [step(bad_name, "Warning", "Drift", f"field f{i} drifted", 1) for i in range(11)]
    # Two groups of one object reach 10 messages in the same (fake) second: both combined
    # events get the same name, the second create fails with AlreadyExists, and the next one of
    # that group patches the FIRST group's combined event.
    steps += [step(clash, "Normal", "Alpha", f"alpha {i}", 0) for i in range(10)]
    steps += [step(clash, "Normal", "Beta", f"beta {i}", 0) for i in range(11)]
    return (
        "Kinds, API groups, fieldPaths, resourceVersions, two sources, both types, empty and "
        "escaped messages, a non-DNS object name and a combined-event name collision.",
        steps,
        {"creates": 38, "patches": 6, "failed": 1},
    )


OPTIONS: dict[str, dict[str, int]] = {"lru_eviction": {"lruCacheSize": 8}}


def write(name: str, description: str, steps: list[Step], expect: dict[str, int]) -> Path:
    head: dict[str, Any] = {"name": name, "description": description, "start": START}
    head["source"] = SOURCE
    if name in OPTIONS:
        head["options"] = OPTIONS[name]
    head["expect"] = expect
    lines = [json.dumps(head, ensure_ascii=False)[:-1] + ',\n"steps": [']
    lines += [
        "  " + json.dumps(s, ensure_ascii=False) + ("," if i < len(steps) - 1 else "")
        for i, s in enumerate(steps)
    ]
    lines.append("]}\n")
    path = TRACES / f"{name}.json"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main() -> None:
    TRACES.mkdir(exist_ok=True)
    for name, build in (
        ("repeats", repeats),
        ("aggregation", aggregation),
        ("aggregation_window", aggregation_window),
        ("spam", spam),
        ("many_objects", many_objects),
        ("lru_eviction", lru_eviction),
        ("mixed", mixed),
    ):
        print(write(name, *build()))


if __name__ == "__main__":
    main()
