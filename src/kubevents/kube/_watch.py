"""A watch stream decoded with msgspec, one JSON line at a time.

The stream tracks the last resourceVersion it saw (objects and bookmarks) so a caller can
resume; an ``ERROR`` line becomes a ``StatusError`` (``GoneError`` for 410); a line that does
not decode is logged, counted and skipped, keeping its resourceVersion when it can be read.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

import aiohttp
import msgspec

from kubevents.errors import StatusError, TransportError
from kubevents.model import DECODE_ERRORS

__all__ = [
    "ADDED",
    "BOOKMARK",
    "DELETED",
    "ERROR",
    "INITIAL_EVENTS_END_ANNOTATION",
    "MODIFIED",
    "WatchEvent",
    "WatchStream",
    "excerpt",
]

log = logging.getLogger(__name__)

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"
BOOKMARK = "BOOKMARK"
ERROR = "ERROR"
INITIAL_EVENTS_END_ANNOTATION = "k8s.io/initial-events-end"

_T = TypeVar("_T")

# A notification is one object on one line, and the API server stores no object larger than
# etcd's request limit (1.5 MiB by default). A line still open past this is not a watch: the
# stream is dropped (and resumed) rather than held in memory without end.
MAX_LINE_BYTES = 64 * 1024 * 1024


class _Envelope(msgspec.Struct):
    type: str
    object: msgspec.Raw


class _Meta(msgspec.Struct):
    resourceVersion: str = ""  # noqa: N815 - wire name
    annotations: dict[str, str] | None = None


class _Partial(msgspec.Struct):
    metadata: _Meta = msgspec.field(default_factory=_Meta)


_envelope_decoder = msgspec.json.Decoder(_Envelope)
# The API server writes each notification as compact JSON, ``{"type":"…","object":{…}}``. For
# such a line the object's bytes are found by slicing, and decoded once, instead of being
# scanned by the envelope decoder first: if the object decodes, the line is exactly that
# envelope. Anything else (other spacing, other keys, bad objects) takes the envelope path.
# Keyed by the first letter of the type, the byte after ``{"type":"``: one lookup and one
# comparison per line instead of trying each head in turn.
_TYPE_AT = len(b'{"type":"')
_COMPACT_HEADS = {
    t.encode()[0]: (t, b'{"type":"%s","object":' % t.encode()) for t in (ADDED, MODIFIED, DELETED)
}
_partial_decoder = msgspec.json.Decoder(_Partial)
_status_decoder = msgspec.json.Decoder(dict[str, Any])


# A Struct, not a frozen dataclass: one is built per notification, and a frozen dataclass
# sets each field through object.__setattr__. Not tracked by the garbage collector: a decoded
# object cannot refer back to the notification that carries it.
class WatchEvent(msgspec.Struct, Generic[_T], frozen=True, gc=False):
    """One watch notification.

    ``object`` is the decoded object (``None`` for a ``BOOKMARK``); ``raw`` is the object's
    exact JSON bytes from the server, for sinks that store it unchanged.
    """

    type: str
    object: _T | None
    resource_version: str
    raw: bytes
    annotations: dict[str, str] | None = None

    @property
    def is_initial_events_end(self) -> bool:
        return bool(self.annotations and self.annotations.get(INITIAL_EVENTS_END_ANNOTATION))


class WatchStream(Generic[_T]):
    """Async iterator over a server watch; ``async with`` closes the connection."""

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        decoder: msgspec.json.Decoder[_T],
        resource_version: str,
    ) -> None:
        self._response = response
        self._decoder = decoder
        self.resource_version = resource_version
        self.malformed = 0
        self.received = 0
        # Told how many objects arrived since it was last told, each time the stream is about
        # to wait for the network and when it ends: a counter kept current whenever the
        # stream is idle, at one call per chunk instead of one per object.
        self.on_received: Callable[[int], None] | None = None
        self._reported = 0
        # The line not yet ended, in the chunks it came in: joined once, when it ends.
        self._open_line: list[bytes] = []
        self._open_bytes = 0

    async def __aenter__(self) -> WatchStream[_T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._response.close()

    def __aiter__(self) -> AsyncIterator[WatchEvent[_T]]:
        return self._events()

    async def _events(self) -> AsyncIterator[WatchEvent[_T]]:
        # Lines are split and decoded in one generator: a generator of lines feeding this one
        # would cost a suspension and a resumption per notification.
        content = self._response.content
        decode = self._decode_span
        try:
            while True:
                if self.received != self._reported:
                    self._report_received()
                try:
                    chunk = await content.readany()
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    raise TransportError(
                        f"watch stream broken: {type(exc).__name__}: {exc}"
                    ) from exc
                if not chunk:
                    torn = b"".join(self._open_line)
                    self._open_line, self._open_bytes = [], 0
                    if torn.strip():
                        # A torn last line: the connection ended mid-object.
                        self._count_malformed(torn, "truncated line at end of stream")
                    return
                if self._open_line:
                    if b"\n" not in chunk:
                        self._extend_open_line(chunk)
                        continue
                    self._open_line.append(chunk)
                    data = b"".join(self._open_line)
                    self._open_line, self._open_bytes = [], 0
                else:
                    data = chunk
                start = 0
                while (end := data.find(b"\n", start)) >= 0:
                    if end > start:
                        event = decode(data, start, end)
                        if event is not None:
                            yield event
                    start = end + 1
                if start < len(data):
                    self._extend_open_line(data[start:] if start else data)
        finally:
            self._report_received()
            self.close()

    def _extend_open_line(self, part: bytes) -> None:
        self._open_line.append(part)
        self._open_bytes += len(part)
        if self._open_bytes > MAX_LINE_BYTES:
            self._count_malformed(self._open_line[0], f"a line longer than {MAX_LINE_BYTES} bytes")
            raise TransportError(f"watch stream broken: a line longer than {MAX_LINE_BYTES} bytes")

    def _report_received(self) -> None:
        count, self._reported = self.received - self._reported, self.received
        if count and self.on_received is not None:
            self.on_received(count)

    def _decode(self, line: bytes) -> WatchEvent[_T] | None:
        return self._decode_span(line, 0, len(line))

    def _decode_span(self, data: bytes, start: int, end: int) -> WatchEvent[_T] | None:
        """The notification on the line ``data[start:end]``.

        A compact line's object is sliced straight out of ``data``: its bytes are copied once,
        not once into a line and again out of it.
        """
        # Two indexings, not ``endswith``: its arguments are parsed the slow way on every call.
        compact = (
            _COMPACT_HEADS.get(data[start + _TYPE_AT])
            if end - start > _TYPE_AT and data[end - 1] == data[end - 2] == 0x7D  # "}}"
            else None
        )
        if compact is not None and data.startswith(compact[1], start, end):
            begin = start + len(compact[1])
            if begin < end and data[begin] == 0x7B:  # "{"
                raw = data[begin : end - 1]
                try:
                    obj = self._decoder.decode(raw)
                except DECODE_ERRORS:
                    pass  # the envelope path tells a bad line from a bad object
                else:
                    # ``_object_event``, inline: this is the path of nearly every line.
                    rv = getattr(getattr(obj, "metadata", None), "resource_version", "") or ""
                    if rv:
                        self.resource_version = rv
                    self.received += 1
                    return WatchEvent(compact[0], obj, rv, raw)
        line = data[start:end]
        try:
            envelope = _envelope_decoder.decode(line)
        except DECODE_ERRORS as exc:
            self._count_malformed(line, f"bad watch envelope: {exc}")
            return None
        raw = bytes(envelope.object)
        if envelope.type == ERROR:
            try:
                status = _status_decoder.decode(raw)
            except DECODE_ERRORS:
                status = {"message": raw[:200].decode("utf-8", "replace")}
            # A status without a usable code is still an error of the watch: a 500.
            raise StatusError.from_status(status, 500)
        if envelope.type == BOOKMARK:
            meta = self._partial(raw)
            if meta is None:
                self._count_malformed(line, "bad bookmark")
                return None
            if meta.resourceVersion:
                self.resource_version = meta.resourceVersion
            return WatchEvent(BOOKMARK, None, meta.resourceVersion, raw, meta.annotations)
        try:
            obj = self._decoder.decode(raw)
        except DECODE_ERRORS as exc:
            meta = self._partial(raw)
            if meta is not None and meta.resourceVersion:
                # Skipping the object must not rewind a later resume to before it.
                self.resource_version = meta.resourceVersion
            self._count_malformed(line, f"bad {envelope.type:.40} object: {exc}")
            return None
        return self._object_event(envelope.type, obj, raw)

    def _object_event(self, type_: str, obj: _T, raw: bytes) -> WatchEvent[_T]:
        rv = getattr(getattr(obj, "metadata", None), "resource_version", "") or ""
        if rv:
            self.resource_version = rv
        self.received += 1
        return WatchEvent(type_, obj, rv, raw)

    @staticmethod
    def _partial(raw: bytes) -> _Meta | None:
        try:
            return _partial_decoder.decode(raw).metadata
        except DECODE_ERRORS:
            return None

    def _count_malformed(self, line: bytes, why: str) -> None:
        self.malformed += 1
        log.warning("skipping malformed watch line (%s): %.200r", excerpt(why), line)


def excerpt(value: object, limit: int = 200) -> str:
    """``value`` as text for a log line: at most ``limit`` characters, control characters escaped.

    Decode errors quote the input they choke on, and the input is attacker-controlled: a raw
    escape sequence in a log line reaches the terminal of whoever reads it.
    """
    text = str(value)[:limit]
    return text if text.isprintable() else repr(text)[1:-1]
