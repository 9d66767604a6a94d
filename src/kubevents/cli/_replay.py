"""``kubevents replay``: a capture of ``kubevents export --capture`` into the configured sinks."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from kubevents.cli._export import EXIT_CONFIG, load_config
from kubevents.cli._logsetup import setup_logging
from kubevents.export import CaptureError, ConfigError
from kubevents.export import replay as replay_capture

__all__ = ["replay"]

EXIT_INCOMPLETE = 1


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="YAML configuration of kubevents export: its sinks and rules are used.",
)
@click.option("--cluster-name", help="Name stamped on every stored event.")
@click.option(
    "--db", type=click.Path(dir_okay=False), help="Also/only store into this SQLite file."
)
@click.option("--jsonl", "jsonl_path", help="Also/only write JSON Lines here ('-' = stdout).")
@click.option("--webhook", "webhook_url", help="Also/only POST batches to this URL.")
@click.option("--log-format", type=click.Choice(["console", "json"]))
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
def replay(
    files: tuple[str, ...],
    config_file: str | None,
    db: str | None,
    jsonl_path: str | None,
    webhook_url: str | None,
    **options: Any,
) -> None:
    """Run capture FILES (oldest first: FILE.2 FILE.1 FILE) through the export pipeline.

    The configured sinks get what the live export would have stored: the same occurrences,
    ids and documents. No checkpoint is read or written and no spool is used; sinks'
    throttles are not applied. Exit 0 once everything is stored, 1 if a sink kept failing,
    2 for an invalid configuration or a file that is not a capture.
    """
    overrides: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    config = load_config("replay", config_file, overrides, db, jsonl_path, webhook_url)
    setup_logging(config.log_level, config.log_format)
    try:
        report = asyncio.run(replay_capture(config, [Path(f).expanduser() for f in files]))
    except (ConfigError, CaptureError) as exc:
        click.echo(f"kubevents replay: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(
        f"replayed {report.records} records: {report.occurrences} occurrences"
        + ("" if report.stored else ", NOT all stored (see the log)"),
        err=True,
    )
    sys.exit(0 if report.stored else EXIT_INCOMPLETE)
