"""``kubevents-testenv demo`` (``make run``): the exporter on its embedded default, end to end.

Against the current kubeconfig cluster when one is reachable; otherwise against the project's
real local cluster (etcd + kube-apiserver built from Go modules), with a small workload
recorded through ``kubevents.record`` while the exporter watches. Then it runs
``kubevents query`` on the store it wrote.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import click

from kubevents.cli import main as kubevents_cli
from kubevents.cli import setup_logging
from kubevents.errors import ConfigError, KubeError
from kubevents.export import ExportConfig, Exporter, Seconds, SQLiteSinkConfig
from kubevents.export.store import EventStore, QueryFilter
from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster, ensure_binaries
from kubevents_testenv.workload import record_workload

__all__ = ["demo"]

DEMO_NAMESPACE = "kubevents-demo"
REACHABLE_TIMEOUT = 5.0
EXPORT_TIMEOUT = 120.0


async def _reachable(kubeconfig: str | None, context: str | None) -> KubeClient | None:
    try:
        client = await KubeClient.connect(kubeconfig, context)
    except ConfigError:
        return None
    try:
        async with asyncio.timeout(REACHABLE_TIMEOUT):
            await client.events.list(None, limit=1)
    except (KubeError, TimeoutError):
        await client.close()
        return None
    return client


async def _wait_exported(exporter: Exporter, client: KubeClient) -> None:
    """Until every change the server had when we asked is stored (checkpoint ≥ its RV)."""
    target = int((await client.events.list(None, limit=1)).resource_version)
    deadline = time.monotonic() + EXPORT_TIMEOUT
    while True:
        pipeline = exporter.pipeline
        rv = pipeline.acklog.resource_version if pipeline is not None else None
        if rv is not None and rv.isdigit() and int(rv) >= target:
            return
        if time.monotonic() > deadline:
            raise click.ClickException(f"export did not catch up with {target} in time")
        await asyncio.sleep(0.1)


async def _run(client: KubeClient, local: bool, workdir: Path) -> None:
    db = workdir / "kubevents.db"
    config = ExportConfig(
        cluster_name="local-demo" if local else "default",
        sinks=[SQLiteSinkConfig(path=str(db))],
        listen="127.0.0.1:0",
        shutdown_timeout=Seconds(10),
    )
    exporter = Exporter(config, client=client)
    stop = asyncio.Event()
    task = asyncio.create_task(exporter.run(stop))
    await exporter.wait_started()
    assert exporter.server is not None
    click.echo(f"exporter: watching {client.cluster.host}, storing to {db}")
    click.echo(f"metrics:  http://127.0.0.1:{exporter.server.port}/metrics (also /healthz)")
    if local:
        await client.ensure_namespace(DEMO_NAMESPACE)
        report = await record_workload(client, DEMO_NAMESPACE)
        click.echo(
            f"recorder: {report.calls} events recorded through kubevents.record "
            f"(correlated into {report.shutdown.delivered} API writes, "
            f"{report.shutdown.dropped} dropped)"
        )
    await _wait_exported(exporter, client)
    stop.set()
    await task

    click.echo(f"\n$ kubevents query -A --db {db}")
    kubevents_cli.main(
        ["query", "-A", "--db", str(db)], prog_name="kubevents", standalone_mode=False
    )
    with EventStore(db) as store:
        stored = len(store.query(QueryFilter()))
    click.echo(f"\n{stored} occurrences stored. Keep exporting with: kubevents export --db {db}")


def _fresh(workdir: Path) -> None:
    # A fresh cluster each time: the old store would describe a cluster that is gone.
    shutil.rmtree(workdir / "cluster", ignore_errors=True)
    for stale in workdir.glob("kubevents.db*"):
        stale.unlink()


@click.command()
@click.option("--kubeconfig", help="Use this cluster if reachable (default: current kubeconfig).")
@click.option("--context", help="kubeconfig context.")
@click.option("--local", is_flag=True, help="Always use the project's local cluster.")
@click.option(
    "--workdir", type=click.Path(path_type=Path), default=Path(".kubevents-demo"),
    show_default=True, help="Where the store (and the local cluster's data) live.",
)  # fmt: skip
def demo(kubeconfig: str | None, context: str | None, local: bool, workdir: Path) -> None:
    """Export a cluster's Events into the embedded SQLite store and query them."""
    setup_logging("warning")
    workdir.mkdir(parents=True, exist_ok=True)

    async def main() -> None:
        client = None if local else await _reachable(kubeconfig, context)
        if client is not None:
            async with client:
                await _run(client, False, workdir)
            return
        click.echo("no reachable cluster in the kubeconfig: starting the local real cluster")
        ensure_binaries()
        await asyncio.to_thread(_fresh, workdir)
        with LocalCluster(workdir / "cluster") as cluster:
            click.echo(f"cluster:  kube-apiserver at {cluster.url} ({cluster.start_seconds:.1f}s)")
            async with await KubeClient.connect(cluster.kubeconfig) as local_client:
                await _run(local_client, True, workdir)

    asyncio.run(main())
