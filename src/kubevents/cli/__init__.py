"""The ``kubevents`` command line."""

from __future__ import annotations

import importlib

import click

from kubevents import __version__
from kubevents.cli._logsetup import setup_logging

__all__ = ["main", "setup_logging"]

# Each command's module is imported when that command runs (or --help lists them): `kubevents
# export` does not load the store readers, the UI or the recorder `emit` uses.
_COMMANDS = {
    "emit": "kubevents.cli._emit",
    "export": "kubevents.cli._export",
    "query": "kubevents.cli._query",
    "replay": "kubevents.cli._replay",
    "stats": "kubevents.cli._stats",
    "ui": "kubevents.cli._ui",
}


class _Commands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMANDS:
            command = getattr(importlib.import_module(_COMMANDS[cmd_name]), cmd_name)
            assert isinstance(command, click.Command)
            self.add_command(command)
        return self.commands.get(cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kubevents")
def main() -> None:
    """Kubernetes Events for Python: record them like client-go, keep every one of them."""
