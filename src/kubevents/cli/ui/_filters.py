"""The table's filters, read from a URL: the options of ``kubevents query``, by the same names.

A URL is the whole state of a view, so it can be shared: ``/?namespace=shop&type=Warning&
since=1h``. Times take ``--since``'s forms (``1h``, an RFC 3339 time, a date); a relative one
is read when the page loads. Bad input is a ``FilterError`` naming the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from kubevents.cli._kinds import canonical_kind
from kubevents.cli._query import parse_when
from kubevents.export.store import PageCursor, QueryFilter

__all__ = ["FIELDS", "FilterError", "Filters", "parse_filters"]

# The URL parameters of a filter, in the order the form shows them; each is the
# `kubevents query` option of the same name (`grep`: --grep, `for`: --for).
FIELDS = (
    "namespace", "for", "kind", "name", "reason", "type", "source", "cluster", "since", "until",
    "grep",
)  # fmt: skip
_MAX_TEXT = 1_000
DEFAULT_SIZE = 100
MAX_SIZE = 1_000


class FilterError(ValueError):
    """A URL parameter that is not a valid filter; the message names it."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What a URL asks for: its filter parameters as given, and what they mean."""

    given: dict[str, str]
    query: QueryFilter
    size: int
    before: PageCursor | None

    def params(self, **override: str | None) -> list[tuple[str, str]]:
        """The URL parameters of these filters, with ``override`` replacing or removing some."""
        merged: dict[str, str | None] = {**self.given, **override}
        return [(k, v) for k in (*FIELDS, "size") if (v := merged.get(k))]


def _one(args: Mapping[str, str], key: str) -> str | None:
    value = args.get(key, "").strip()
    if len(value) > _MAX_TEXT:
        raise FilterError(f"{key}: longer than {_MAX_TEXT} characters")
    return value or None


def _time(args: Mapping[str, str], key: str, now: datetime) -> datetime | None:
    value = _one(args, key)
    if value is None:
        return None
    try:
        return parse_when(value, now)
    except ValueError as exc:
        raise FilterError(f"{key}: {exc}") from None


def parse_filters(args: Mapping[str, str], now: datetime) -> Filters:
    """The filters of a URL's query parameters (unknown parameters are ignored)."""
    given = {k: v for k in (*FIELDS, "size") if (v := _one(args, k)) is not None}
    kind, name = given.get("kind"), given.get("name")
    if "for" in given:
        if kind is not None or name is not None:
            raise FilterError("for: already names the object; drop kind and name")
        kind, sep, name = given["for"].partition("/")
        if not sep or not kind or not name or "/" in name:
            raise FilterError(f"for: expected KIND/NAME, got {given['for']!r}")
    type_ = given.get("type")
    if type_ is not None and type_.casefold() not in ("normal", "warning"):
        raise FilterError(f"type: expected Normal or Warning, got {type_!r}")
    try:
        size = int(given.get("size", DEFAULT_SIZE))
    except ValueError:
        raise FilterError(f"size: expected a number, got {given['size']!r}") from None
    if not 1 <= size <= MAX_SIZE:
        raise FilterError(f"size: expected 1 to {MAX_SIZE}, got {size}")
    before = None
    if (token := _one(args, "before")) is not None:
        try:
            before = PageCursor.parse(token)
        except ValueError as exc:
            raise FilterError(f"before: {exc}") from None
    flt = QueryFilter(
        namespace=given.get("namespace"),
        involved_kind=canonical_kind(kind) if kind else None,
        involved_name=name,
        reason=given.get("reason"),
        type=type_,
        source=given.get("source"),
        cluster=given.get("cluster"),
        since=_time(args, "since", now),
        until=_time(args, "until", now),
        text=given.get("grep"),
    )
    return Filters(given=given, query=flt, size=size, before=before)
