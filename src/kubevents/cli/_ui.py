"""``kubevents ui``: serve the read-only web view of the store (``kubevents.cli.ui``)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import click
from aiohttp import web

from kubevents.cli._query import db_option, open_store
from kubevents.cli.ui import UIOptions, loopback_hosts, make_app
from kubevents.export import parse_listen

__all__ = ["ui"]


def _listen(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, int]:
    try:
        return parse_listen(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


async def _serve(options: UIOptions, host: str, port: int) -> None:
    runner = web.AppRunner(make_app(options), access_log=None, shutdown_timeout=2)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        for address in runner.addresses:
            bound_host, bound_port = address[:2]
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            click.echo(f"kubevents ui: http://{shown}:{bound_port}/ (Ctrl-C stops)", err=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


@click.command()
@db_option
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    callback=_listen,
    help="Where to serve. Loopback by default: the pages show every stored Event, unauthenticated.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(0.05, 60),
    default=1.0,
    show_default=True,
    help="Seconds between checks for new events on a live page.",
)
def ui(db: str, listen: tuple[str, int], poll_interval: float) -> None:
    """Browse the stored events in a web browser: timeline, table, objects, top lists.

    \b
    Read-only: the store is opened with mode=ro, so it runs safely beside `kubevents export`,
    and live pages show new occurrences as the exporter writes them. No authentication: it
    listens on loopback unless --listen says otherwise, e.g. --listen 0.0.0.0:8080 (then anyone
    who reaches the port reads every Event).
    """
    host, port = listen
    open_store(db).close()  # a missing or foreign store exits 2 here, not at the first page
    allowed = loopback_hosts(host)
    if allowed is None:
        click.echo(
            f"kubevents ui: listening on {host}, not loopback: anyone who reaches it reads "
            "every stored Event",
            err=True,
        )
    options = UIOptions(db=Path(db), poll_interval=poll_interval, allowed_hosts=allowed)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(options, host, port))
