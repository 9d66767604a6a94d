"""``kubevents cluster``: the real local cluster (etcd + kube-apiserver built from Go modules)."""

from __future__ import annotations

from pathlib import Path

import click

from kubevents.testenv import __main__ as testenv_main
from kubevents.testenv import ensure_binaries


@click.command()
@click.option("--workdir", type=click.Path(path_type=Path), help="Keep data and logs here.")
@click.option("--watch-cache-for-events", is_flag=True, help="Serve Events from the watch cache.")
@click.option("--build-only", is_flag=True, help="Build (or find cached) binaries and exit.")
def cluster(workdir: Path | None, watch_cache_for_events: bool, build_only: bool) -> None:
    """Run a local etcd + kube-apiserver until interrupted (builds them on first use)."""
    if build_only:
        binaries = ensure_binaries()
        click.echo(f"kube-apiserver: {binaries.kube_apiserver}\netcd:           {binaries.etcd}")
        return
    args = ["--workdir", str(workdir)] if workdir else []
    if watch_cache_for_events:
        args.append("--watch-cache-for-events")
    raise SystemExit(testenv_main.main(args))
