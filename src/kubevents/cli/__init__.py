"""The ``kubevents`` command line."""

from __future__ import annotations

import click

from kubevents import __version__
from kubevents.cli._emit import emit
from kubevents.cli._export import export
from kubevents.cli._logsetup import setup_logging
from kubevents.cli._query import query
from kubevents.cli._replay import replay
from kubevents.cli._stats import stats
from kubevents.cli._ui import ui

__all__ = ["main", "setup_logging"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kubevents")
def main() -> None:
    """Kubernetes Events for Python: record them like client-go, keep every one of them."""


main.add_command(emit)
main.add_command(export)
main.add_command(query)
main.add_command(stats)
main.add_command(replay)
main.add_command(ui)
