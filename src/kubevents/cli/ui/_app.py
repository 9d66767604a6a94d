"""The web app of ``kubevents ui``: read-only pages over the store, and their live stream.

Every read opens the store read-only (``EventStore``, ``mode=ro``) in a worker thread, so a
slow query never stalls the server and no connection is shared between threads. Responses
carry a Content-Security-Policy that allows only this server's own script and stylesheet, and
a server bound to loopback answers only requests addressed to loopback (a web page elsewhere
cannot read the history through DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from kubevents.cli.ui._filters import FilterError, Filters, parse_filters
from kubevents.cli.ui._html import Markup, html, page, url
from kubevents.cli.ui._live import LiveStreams
from kubevents.cli.ui._svg import timeline_svg
from kubevents.cli.ui._views import event_row, events_table, filter_form, object_table, top_tables
from kubevents.export.sinks import format_time
from kubevents.export.sinks.sqlite import to_micros
from kubevents.export.store import (
    EventStore,
    PageCursor,
    StoredOccurrence,
    StoreError,
    Timeline,
)

__all__ = ["CSP", "UIOptions", "loopback_hosts", "make_app"]

_T = TypeVar("_T")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_STATIC = {"ui.js": "text/javascript", "ui.css": "text/css"}
_OBJECT_LIMIT = 5_000
_TOP = 10


@dataclass(frozen=True, slots=True)
class UIOptions:
    db: Path
    poll_interval: float = 1.0
    # The host names a loopback-bound server answers to; None: any (bound to a wider address).
    allowed_hosts: frozenset[str] | None = None


def loopback_hosts(host: str) -> frozenset[str] | None:
    """The host names to answer to when listening on ``host``; None when it is not loopback."""
    try:
        if not ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        if host != "localhost":
            return None
    return frozenset({"127.0.0.1", "localhost", "::1", host})


def make_app(options: UIOptions) -> web.Application:
    live = LiveStreams(options.db, options.poll_interval)

    async def read(fn: Callable[[EventStore], _T]) -> _T:
        def run() -> _T:
            with EventStore(options.db) as store:
                return fn(store)

        return await asyncio.to_thread(run)

    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        allowed = options.allowed_hosts
        if allowed is not None and request.url.host not in allowed:
            problem = _problem("Not this host", "Use the address `kubevents ui` printed.")
            return _page_response(problem, 421)
        try:
            response = await handler(request)
        except FilterError as exc:
            response = _page_response(_problem("Bad filter", str(exc)), 400)
        except StoreError as exc:
            response = _page_response(_problem("The store cannot be read", str(exc)), 503)
        except web.HTTPException as exc:
            response = _page_response(_problem(exc.reason, exc.text or ""), exc.status)
        for key, value in _HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    def filters_of(request: web.Request) -> Filters:
        return parse_filters(request.query, datetime.now(UTC))

    async def events(request: web.Request) -> web.StreamResponse:
        f = filters_of(request)

        def load(store: EventStore) -> tuple[int, list[StoredOccurrence], Timeline | None]:
            head = store.last_seq()
            rows = store.page(f.query, before=f.before, size=f.size + 1)
            return head, rows, store.timeline(f.query)

        head, rows, timeline = await read(load)
        # The timeline counts every match (nothing matches without one): no second count.
        total = timeline.total if timeline is not None else 0
        older = None
        if len(rows) > f.size:
            rows = rows[: f.size]
            last = rows[-1]
            cursor = PageCursor(to_micros(last.filing_time), last.seq).token()
            older = url("/", [*f.params(), ("before", cursor)])

        chart = _chart(timeline, f)
        body = html(
            '{form}<section class="chart" id="timeline" data-src="{src}">{chart}</section>{table}',
            form=filter_form(f, "/"), src=url("/timeline", f.params()), chart=chart,
            table=events_table(rows, total, older),
        )  # fmt: skip
        # Live rows belong at the top of the first page of an open-ended window only.
        live = None
        if f.before is None and f.query.until is None:
            live = url("/live", [*f.params(), ("after", str(head))])
        return _page_response(page("Events", body, active="/", live=live))

    async def timeline_fragment(request: web.Request) -> web.StreamResponse:
        f = filters_of(request)
        timeline = await read(lambda s: s.timeline(f.query))

        chart = _chart(timeline, f)
        return web.Response(text=chart, content_type="text/html")

    async def live_stream(request: web.Request) -> web.StreamResponse:
        f = filters_of(request)
        try:
            after = int(request.query.get("after", ""))
        except ValueError:
            raise FilterError("after: expected the seq the page was read at") from None
        return await live.stream(request, f.query, after, event_row)

    async def object_view(request: web.Request) -> web.StreamResponse:
        kind = request.query.get("kind", "")
        name = request.query.get("name", "")
        namespace = request.query.get("namespace", "")
        if not kind or not name:
            raise FilterError("kind and name: both are needed to show an object")
        rows = await read(lambda s: s.object_history(kind, namespace, name, limit=_OBJECT_LIMIT))
        body = object_table(kind, namespace, name, rows)
        return _page_response(page(f"{kind}/{name}", body, active=""))

    async def top(request: web.Request) -> web.StreamResponse:
        f = filters_of(request)
        q = f.query
        result = await read(lambda s: s.stats(q.since, q.until, top=_TOP, namespace=q.namespace))
        # `kubevents stats` narrows by these three only.
        form = filter_form(f, "/top", ("namespace", "since", "until"))
        body = html("<h1>Top</h1>{}{}", form, top_tables(result, f))
        return _page_response(page("Top", body, active="/top"))

    async def static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound(text=f"no static file {name}")
        text = resources.files(__package__).joinpath("static", name).read_text("utf-8")
        return web.Response(text=text, content_type=_STATIC[name])

    app = web.Application(middlewares=[guard])
    app.router.add_get("/", events)
    app.router.add_get("/timeline", timeline_fragment)
    app.router.add_get("/live", live_stream)
    app.router.add_get("/object", object_view)
    app.router.add_get("/top", top)
    app.router.add_get("/static/{name}", static)

    async def stop_streams(app: web.Application) -> None:
        live.close()

    app.on_shutdown.append(stop_streams)
    return app


def _chart(timeline: Timeline | None, f: Filters) -> Markup:
    """The timeline of ``f``; each bar links to the same filters zoomed to its bucket."""

    def zoom(start: datetime, end: datetime) -> str:
        return url("/", f.params(since=format_time(start), until=format_time(end)))

    return timeline_svg(timeline, zoom) if timeline is not None else Markup("")


def _problem(title: str, detail: str) -> Markup:
    return page(title, html('<h1>{}</h1><p class="problem">{}</p>', title, detail), active="")


def _page_response(body: Markup, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
