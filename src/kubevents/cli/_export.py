"""``kubevents export``: the export service."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import TYPE_CHECKING, Any

import click
import msgspec

from kubevents.cli._logsetup import setup_logging
from kubevents.cli._malloc import pin_mmap_threshold
from kubevents.export import (
    ConfigError,
    ExportConfig,
    Exporter,
    load_export_config,
    read_config_file,
)

if TYPE_CHECKING:
    from kubevents.export import LeaderElectedExporter

__all__ = ["export", "load_config", "run_exporter"]

EXIT_CONFIG = 2


async def run_exporter(exporter: Exporter | LeaderElectedExporter) -> int:
    """Run until SIGTERM/SIGINT, then drain and checkpoint."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await exporter.run(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


@click.command()
@click.option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="YAML configuration file (see docs/exporter.md).",
)
@click.option(
    "--kubeconfig", help="Path to a kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)."
)
@click.option("--context", help="kubeconfig context.")
@click.option("--cluster-name", help="Name stamped on every stored event.")
@click.option("-n", "--namespace", help="Only this namespace (default: all).")
@click.option("--field-selector", help="API field selector, e.g. type=Warning.")
@click.option("--label-selector", help="API label selector.")
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    help="SQLite store path when no sink is configured (default ./kubevents.db).",
)
@click.option("--jsonl", "jsonl_path", help="Also/only write JSON Lines here ('-' = stdout).")
@click.option("--webhook", "webhook_url", help="Also/only POST batches to this URL.")
@click.option("--checkpoint", help="Checkpoint file (default: next to the SQLite store).")
@click.option(
    "--capture",
    "capture_path",
    type=click.Path(dir_okay=False),
    help="Also record what the watch reads to this file (gzip; for kubevents replay).",
)
@click.option(
    "--listen", help="host:port for /metrics, /healthz, /readyz (default 127.0.0.1:9090)."
)
@click.option("--no-listen", is_flag=True, help="Serve no HTTP endpoints.")
@click.option("--shutdown-timeout", help="Drain deadline on SIGTERM (default 25s).")
@click.option("--log-format", type=click.Choice(["console", "json"]))
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show backfill progress (default: when stderr is a terminal).",
)
def export(
    config_file: str | None,
    db: str | None,
    jsonl_path: str | None,
    webhook_url: str | None,
    no_listen: bool,
    progress: bool | None,
    capture_path: str | None,
    **options: Any,
) -> None:
    """List-watch every Event of the cluster and store each occurrence, losing nothing."""
    overrides: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    if capture_path:
        capture = _raw(config_file, "capture")
        overrides["capture"] = {
            **(capture if isinstance(capture, dict) else {}),
            "path": capture_path,
        }
    config = load_config("export", config_file, overrides, db, jsonl_path, webhook_url)
    if no_listen:
        config = msgspec.structs.replace(config, listen=None)
    setup_logging(config.log_level, config.log_format)
    show_progress = sys.stderr.isatty() if progress is None else progress
    pin_mmap_threshold()  # the process is the CLI's own: see _malloc.py
    try:
        exporter: Exporter | LeaderElectedExporter
        if config.leader_election.enabled:
            from kubevents.export import LeaderElectedExporter

            exporter = LeaderElectedExporter(config, progress=show_progress)
        else:
            exporter = Exporter(config, progress=show_progress)
        code = asyncio.run(run_exporter(exporter))
    except ConfigError as exc:
        click.echo(f"kubevents export: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    sys.exit(code)


def load_config(
    command: str,
    config_file: str | None,
    overrides: dict[str, Any],
    db: str | None,
    jsonl_path: str | None,
    webhook_url: str | None,
) -> ExportConfig:
    """The configuration, with ``--db`` / ``--jsonl`` / ``--webhook`` added to the file's
    sinks (with none at all, SQLite is the default); exit 2 when it is invalid."""
    flag_sinks: list[dict[str, Any]] = []
    if db:
        flag_sinks.append({"type": "sqlite", "path": db})
    if jsonl_path:
        flag_sinks.append({"type": "jsonl", "path": jsonl_path})
    if webhook_url:
        flag_sinks.append({"type": "webhook", "url": webhook_url})
    try:
        if flag_sinks:
            sinks = _raw(config_file, "sinks")
            overrides["sinks"] = [*(sinks if isinstance(sinks, list) else []), *flag_sinks]
        return load_export_config(config_file, overrides)
    except ConfigError as exc:
        click.echo(f"kubevents {command}: invalid configuration: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def _raw(config_file: str | None, key: str) -> Any:
    """A block of the config file as plain data, so flags can add to it (None if absent)."""
    if config_file is None:
        return None
    try:
        return read_config_file(config_file).get(key)
    except ConfigError:
        return None  # load_export_config reports the problem with the file
