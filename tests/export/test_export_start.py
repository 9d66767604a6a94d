"""The exporter's start: the cluster checks and the sinks' start run side by side, and a
failure of either closes what the other opened."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from kubevents.export import ConfigError, ExportConfig, Exporter
from kubevents.export.sinks import SinkError

from .memory_sink import MemorySink


def _unreachable_kubeconfig(path: Path) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
        "users": [{"name": "x", "user": {"token": "t"}}],
    }))  # fmt: skip
    return path


class _RefusingSink(MemorySink):
    async def start(self) -> None:
        raise SinkError("refused", reason="config", permanent=True)


def _config(tmp_path: Path) -> ExportConfig:
    return ExportConfig(
        kubeconfig=str(_unreachable_kubeconfig(tmp_path / "kubeconfig")),
        checkpoint=str(tmp_path / "checkpoint"),
        listen=None,
    )


async def test_a_cluster_that_fails_its_check_closes_the_sinks_that_started(
    tmp_path: Path,
) -> None:
    sink = MemorySink()
    exporter = Exporter(_config(tmp_path), sinks=[sink])
    with pytest.raises(ConfigError, match="not reachable"):
        await exporter.run(asyncio.Event())
    assert sink.started and sink.closed
    assert sink.writes == []


async def test_the_clusters_error_wins_over_a_sinks(tmp_path: Path) -> None:
    refusing, other = _RefusingSink("refusing"), MemorySink("other")
    exporter = Exporter(_config(tmp_path), sinks=[other, refusing])
    with pytest.raises(ConfigError, match="not reachable"):
        await exporter.run(asyncio.Event())
    assert other.started and other.closed  # started before the refusal, closed after it


class _HalfStartedSink(MemorySink):
    """Opens what a real sink opens first (a session, a producer), then its start fails."""

    async def start(self) -> None:
        self.started = True
        raise SinkError("the engine refused the index template", reason="config")


class _UnclosableSink(MemorySink):
    async def close(self) -> None:
        self.closed = True
        raise OSError("already gone")


async def test_a_sink_whose_start_fails_is_closed_with_those_started_before(
    tmp_path: Path,
) -> None:
    from kubevents.export._startup import start_sinks

    first, failing, never = _UnclosableSink("first"), _HalfStartedSink("failing"), MemorySink()
    with pytest.raises(ConfigError, match=r"sinks\[1\] \(failing\): the engine refused"):
        await start_sinks(_config(tmp_path), [first, failing, never])
    # The failing one too: it holds connections of its own, and one that cannot be closed
    # does not keep the others open.
    assert first.closed and failing.closed
    assert not never.started and not never.closed
