"""HTML built by the server, with every value escaped unless it is already ``Markup``.

Event text is attacker-controlled: a message, a reason, an object name can hold markup, and
terminal-style tricks (bidi overrides, control characters). ``html()`` formats a template whose
placeholders are all escaped, so a value reaches the page only as text; the page's
Content-Security-Policy (``_app``) forbids inline scripts besides.
"""

from __future__ import annotations

import html as _stdhtml
from collections.abc import Iterable
from urllib.parse import urlencode

from kubevents.cli._table import printable

__all__ = ["Markup", "esc", "html", "join", "page", "url"]


class Markup(str):
    """Text that is already HTML (made by ``html()``); never built from input directly."""

    __slots__ = ()


def esc(value: object) -> Markup:
    """``value`` as HTML text: markup characters and quotes escaped, control characters shown."""
    if isinstance(value, Markup):
        return value
    return Markup(_stdhtml.escape(printable(str(value)), quote=True))


def html(template: str, /, *args: object, **kwargs: object) -> Markup:
    """``template.format`` with each argument escaped (``Markup`` arguments as they are)."""
    return Markup(
        template.format(*(esc(a) for a in args), **{k: esc(v) for k, v in kwargs.items()})
    )


def join(parts: Iterable[Markup], sep: str = "") -> Markup:
    return Markup(sep.join(esc(p) for p in parts))


def url(path: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """``path`` with a query string; the values are percent-encoded (``html()`` escapes it)."""
    query = urlencode(list(params))
    return f"{path}?{query}" if query else path


_NAV = (("/", "Events"), ("/top", "Top"))


def page(title: str, body: Markup, *, active: str, live: str | None = None) -> Markup:
    """A whole page; ``live`` is the URL of the page's server-sent event stream, if any."""
    nav = join(
        html('<a href="{}"{}>{}</a>', path, Markup(' class="on"' if path == active else ""), name)
        for path, name in _NAV
    )
    return html(
        """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · kubevents</title>
<link rel="stylesheet" href="/static/ui.css">
<script src="/static/ui.js" defer></script>
</head><body{live}>
<header><a class="brand" href="/">kubevents</a><nav>{nav}</nav>
<span id="live-state" class="live-state"></span></header>
<main>{body}</main>
</body></html>
""",
        title=title,
        live=Markup(html(' data-live="{}"', live)) if live else Markup(""),
        nav=nav,
        body=body,
    )
