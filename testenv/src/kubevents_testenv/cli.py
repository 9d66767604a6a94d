"""``kubevents-testenv`` (``python -m kubevents_testenv``): the test environment by hand.

``cluster`` keeps a real local cluster running, ``demo`` is what ``make run`` runs, and
``workload`` records test Events into any cluster. None of it ships with kubevents.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from kubevents.errors import ConfigError
from kubevents.kube import KubeClient
from kubevents_testenv import KUBE_VERSION, LocalCluster, ensure_binaries
from kubevents_testenv._demo import demo
from kubevents_testenv.workload import record_flood, record_workload

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """kubevents' test environment: a real local cluster, the demo, a test workload."""


@main.command()
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    help="Directory for data, certs, logs and kubeconfigs (default: a temp dir, removed).",
)
@click.option(
    "--watch-cache-for-events",
    is_flag=True,
    help="Serve Events from the apiserver watch cache (off by default upstream).",
)
@click.option("--build-only", is_flag=True, help="Build (or find cached) binaries and exit.")
def cluster(workdir: Path | None, watch_cache_for_events: bool, build_only: bool) -> None:
    """Run a local etcd + kube-apiserver until SIGINT/SIGTERM (builds them on first use)."""
    # Before the handlers below: Ctrl-C during a long build should just abort it.
    binaries = ensure_binaries()
    if build_only:
        click.echo(f"kube-apiserver: {binaries.kube_apiserver}\netcd:           {binaries.etcd}")
        return
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with LocalCluster(
        workdir, watch_cache_for_events=watch_cache_for_events, binaries=binaries
    ) as running:
        click.echo(
            f"kube-apiserver {KUBE_VERSION} ready at {running.url} in {running.start_seconds:.1f}s"
        )
        click.echo(f"workdir:            {running.workdir}")
        click.echo(f"kubeconfig (admin): {running.kubeconfig}")
        click.echo(f"kubeconfig (limited user, events only): {running.kubeconfig_limited}")
        click.echo(f"etcd:               {running.etcd_url}")
        click.echo(f"export KUBECONFIG={running.kubeconfig}")
        while not stop.wait(0.5):
            if not running.running:
                click.echo("a control-plane process exited:", err=True)
                click.echo(running._logs_summary(), err=True)
                raise SystemExit(1)
        click.echo("stopping ...", err=True)


async def _record(
    kubeconfig: str | None, context: str | None, namespace: str, flood: int, repeats: int
) -> str:
    try:
        client = await KubeClient.connect(kubeconfig, context)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    async with client:
        await client.ensure_namespace(namespace)
        if flood:
            report = await record_flood(client, namespace, objects=flood, repeats=repeats)
            calls = flood * repeats
        else:
            story = await record_workload(client, namespace)
            calls, report = story.calls, story.shutdown
    return (
        f"{calls} events recorded into namespace {namespace} through kubevents.record "
        f"({report.delivered} API writes, {report.dropped} dropped)"
    )


@main.command()
@click.option("--kubeconfig", help="Cluster to record into (default: current kubeconfig).")
@click.option("--context", help="kubeconfig context.")
@click.option("-n", "--namespace", default="kubevents-demo", show_default=True)
@click.option(
    "--flood",
    type=click.IntRange(min=1),
    help="Instead of the demo's story: this many pods, each with one repeated Warning.",
)
@click.option(
    "--repeats",
    type=click.IntRange(1, 25),
    default=10,
    show_default=True,
    help="With --flood: occurrences per pod (the spam filter lets 25 through).",
)
def workload(
    kubeconfig: str | None, context: str | None, namespace: str, flood: int | None, repeats: int
) -> None:
    """Record test Events through kubevents.record (the demo's story, or a flood)."""
    click.echo(asyncio.run(_record(kubeconfig, context, namespace, flood or 0, repeats)))


main.add_command(demo)
