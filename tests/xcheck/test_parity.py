"""client-go's tools/record and kubevents.record, side by side on the same traces.

For every trace in ``xcheck/traces``: the Go program (client-go v0.34.4, built from its Go
module) and ``kubevents.record`` each record the trace into a fresh namespace of the real local
apiserver, as the RBAC-limited user, concurrently. Their API calls (verb, order, target, body,
outcome) and the Events stored at the end must be identical modulo names, namespaces and the
times that come from the recorder's real clock (see ``xcheck/harness.py``).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import msgspec
import pytest
from xcheck.harness import (
    ApiCall,
    TraceRun,
    diff,
    go_binary,
    load_trace,
    normalise,
    run_go_trace,
    summary,
    trace_paths,
)
from xcheck.python_driver import run_trace

from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster

TRACES = trace_paths()
# What the issue asks the traces to cover; a trace file going missing must not pass quietly.
REQUIRED = {"repeats", "aggregation", "aggregation_window", "spam", "many_objects", "mixed"}


@pytest.fixture(scope="session")
def xcheck_binary() -> Path:
    # Builds on first use (cached under ~/.cache/kubevents/xcheck); no Go means a failure.
    return go_binary()


def test_every_behaviour_has_a_trace() -> None:
    assert {path.stem for path in TRACES} >= REQUIRED


@pytest.mark.cluster
@pytest.mark.parametrize("trace_path", TRACES, ids=[path.stem for path in TRACES])
async def test_client_go_parity(
    trace_path: Path, xcheck_binary: Path, local_cluster: LocalCluster, kube: KubeClient
) -> None:
    trace = load_trace(trace_path)
    go_ns, py_ns = (f"x-{side}-{uuid.uuid4().hex[:8]}" for side in ("go", "py"))
    for ns in (go_ns, py_ns):
        assert await kube.ensure_namespace(ns)

    async with await KubeClient.connect(local_cluster.kubeconfig_limited) as limited:
        go_run, py_run = await asyncio.gather(
            run_go_trace(xcheck_binary, local_cluster.kubeconfig_limited, go_ns, trace_path),
            run_trace(trace, limited, py_ns),
        )

    # Against the trace's own expectations first, so that both sides being wrong the same way
    # (or the harness losing calls) cannot pass.
    if trace.expect is not None:
        expected = msgspec.structs.asdict(trace.expect)
        assert summary(go_run) == expected, "client-go"
        assert summary(py_run) == expected, "kubevents"
    go_view, py_view = normalise(go_run, trace, go_ns), normalise(py_run, trace, py_ns)
    assert go_view.calls, "the trace made no API calls"
    assert go_view.events, "nothing was stored"
    difference = diff(go_view, py_view)
    assert not difference, f"{trace.name}: kubevents differs from client-go\n{difference}"


def _run(calls: list[ApiCall]) -> TraceRun:
    return TraceRun(trace="t", calls=calls, events=[])


def test_comparison_sees_a_different_patch() -> None:
    # The normalisation must hide names and real-clock times, never counts or order.
    trace = load_trace(next(p for p in TRACES if p.stem == "repeats"))
    created = ApiCall("create", 0, "ns-a", "web-0.17f0c5a1b2c3d4e5", '{"metadata":{}}')

    def patch(name: str, count: int, namespace: str = "ns-a") -> ApiCall:
        body = f'{{"count":{count},"lastTimestamp":"2031-05-06T07:08:09Z","message":"m"}}'
        return ApiCall("patch", 1, namespace, name, body)

    base = normalise(_run([created, patch(created.name, 2)]), trace, "ns-a")
    renamed = ApiCall("create", 0, "ns-b", "web-0.17f0c5a1b2c3ffff", '{"metadata":{}}')
    same = normalise(_run([renamed, patch(renamed.name, 2, "ns-b")]), trace, "ns-b")
    assert diff(base, same) == ""
    assert diff(base, normalise(_run([created, patch(created.name, 3)]), trace, "ns-a"))
    # A patch aimed at another event than the one created is caught, whatever its name.
    other = patch("web-0.17f0c5a1b2c30000", 2)
    assert diff(base, normalise(_run([created, other]), trace, "ns-a"))
