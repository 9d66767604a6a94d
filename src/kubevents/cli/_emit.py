"""``kubevents emit``: record one Event from a shell script or a CI job, deduplicated with the
Events earlier runs wrote as client-go's recorders would (through a small state file)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from kubevents.cli._emitstate import default_state_path, locked_state
from kubevents.cli._table import printable
from kubevents.errors import ConfigError, KubeError, StatusError
from kubevents.kube import KubeClient, UnknownResourceError
from kubevents.model import ObjectReference

__all__ = ["emit"]


class EmitProblem(click.ClickException):
    """One line on stderr, then exit 1 (``EmitUsage``: 2)."""

    def __init__(self, message: str) -> None:
        # API messages and object names are the server's text: shown, never interpreted, and
        # kept to one line.
        super().__init__(printable(" ".join(message.split())))

    def format_message(self) -> str:
        return self.message

    def show(self, file: Any = None) -> None:
        click.echo(f"kubevents emit: {self.format_message()}", err=True)


class EmitUsage(EmitProblem):
    exit_code = 2


def _split_target(target: str) -> tuple[str, str]:
    kind, sep, name = target.partition("/")
    if not (sep and kind and name) or "/" in name:
        raise EmitUsage(f"expected KIND/NAME (e.g. pod/web-0), got {target!r}")
    return kind, name


async def _regarding(
    kube: KubeClient, kind: str, name: str, namespace: str, uid: str | None
) -> Any:
    """The object as a reference source: looked up by name, or built from ``--uid``."""
    try:
        resource = await kube.objects.resolve(kind)
    except UnknownResourceError as exc:
        raise EmitUsage(str(exc)) from exc
    if uid is not None:
        return ObjectReference(
            kind=resource.kind,
            api_version=resource.group_version,
            name=name,
            namespace=namespace if resource.namespaced else "",
            uid=uid,
        )
    try:
        return await kube.objects.identity(resource, namespace, name)
    except StatusError as exc:
        raise EmitProblem(f"cannot look up {kind}/{name}: {exc}") from exc


async def _emit(options: dict[str, Any]) -> str:
    # Imported here: the recorders are emit's alone, and every other command (the exporter
    # first) starts faster without them.
    from kubevents.cli._emitwrite import write_core, write_events_v1

    kind, name = _split_target(options["target"])
    try:
        kube = await KubeClient.connect(options["kubeconfig"], options["context"])
    except ConfigError as exc:
        raise EmitUsage(str(exc)) from exc
    async with kube:
        try:
            obj = await _regarding(kube, kind, name, options["namespace"], options["uid"])
            state_path = None if options["no_state"] else options["state_file"]
            with locked_state(state_path) as state:
                if options["api"] == "v1":
                    verb, core = await write_core(kube, state, obj, options)
                    state.remember(core)
                    meta, count = core.metadata, core.count
                else:
                    verb, new = await write_events_v1(kube, state, obj, options)
                    state.remember(new)
                    meta, count = new.metadata, new.series.count if new.series else 1
        except KubeError as exc:
            raise EmitProblem(str(exc)) from exc
        except ConfigError as exc:  # the state file
            raise EmitUsage(str(exc)) from exc
    return f"event {meta.namespace}/{meta.name} {verb} (count {count})"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("target", metavar="KIND/NAME")
@click.option(
    "-n",
    "--namespace",
    default="default",
    show_default=True,
    help="The object's namespace (ignored for cluster-scoped kinds).",
)
@click.option(
    "--type",
    "event_type",
    type=click.Choice(["Normal", "Warning"]),
    default="Normal",
    show_default=True,
)
@click.option("--reason", required=True, help="UpperCamelCase, e.g. DeployFailed.")
@click.option("--message", default="", help="The message (core/v1) or note (events.k8s.io/v1).")
@click.option("--action", default=None, help="events.k8s.io/v1's action (default: the reason).")
@click.option(
    "--uid", default=None, help="The object's uid: no lookup (and no get permission) needed."
)
@click.option(
    "--api",
    type=click.Choice(["v1", "events.k8s.io/v1"]),
    default="v1",
    show_default=True,
    help="Which Event API, and recorder, to follow.",
)
@click.option(
    "--component",
    default="kubevents-emit",
    show_default=True,
    help="source.component (v1) or reportingController (events.k8s.io/v1).",
)
@click.option(
    "--instance",
    default=None,
    help="source.host / reportingInstance (default: empty for v1; "
    "<component>-<hostname> for events.k8s.io/v1).",
)
@click.option(
    "--kubeconfig", default=None, help="Default: $KUBECONFIG, ~/.kube/config, in-cluster."
)
@click.option("--context", default=None)
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KUBEVENTS_EMIT_STATE",
    default=None,
    help="Where repeats are counted between runs [default: "
    "$XDG_STATE_HOME/kubevents/emit-state.json].",
)
@click.option("--no-state", is_flag=True, help="Keep no state: every run creates a new Event.")
def emit(**options: Any) -> None:
    """Record one Event about KIND/NAME (e.g. pod/web-0, deploy/web, widgets.example.com/w1).

    A repeat of the same Event (same object, type, reason, message, component) patches its
    count, as client-go's recorder does, for as long as the state file remembers it. Exits 1
    with the API's error when the Event cannot be written, 2 on bad arguments.
    """  # fmt: skip
    if options["state_file"] is None:
        options["state_file"] = default_state_path()
    click.echo(asyncio.run(_emit(options)))
