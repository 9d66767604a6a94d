"""Watch line decoding: the compact fast path gives exactly what the envelope path gives."""

from __future__ import annotations

import logging
from typing import Any, cast

import aiohttp
import msgspec
import pytest

from kubevents.errors import StatusError
from kubevents.kube import ADDED, BOOKMARK, DELETED, MODIFIED, WatchStream
from kubevents.kube._watch import _envelope_decoder
from kubevents.model import Event
from kubevents.model._codec import decoder

OBJECT = (
    b'{"kind":"Event","apiVersion":"v1","metadata":{"name":"web-0.17c2","namespace":"shop",'
    b'"uid":"u-1","resourceVersion":"4711","creationTimestamp":"2024-05-01T12:00:00Z",'
    b'"managedFields":[{"manager":"kubelet","operation":"Update","apiVersion":"v1",'
    b'"time":"2024-05-01T12:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:count":{}}}]},'
    b'"involvedObject":{"kind":"Pod","namespace":"shop","name":"web-0"},"reason":"BackOff",'
    b'"message":"Back-off restarting failed container","source":{"component":"kubelet"},'
    b'"firstTimestamp":"2024-05-01T12:00:00Z","lastTimestamp":"2024-05-01T12:00:00Z",'
    b'"count":3,"type":"Warning","eventTime":null,"reportingComponent":"kubelet",'
    b'"reportingInstance":""}'
)


def stream() -> WatchStream[Event]:
    return WatchStream(cast(aiohttp.ClientResponse, None), decoder(Event), "1")


def outcome(line: bytes) -> tuple[Any, ...]:
    s = stream()
    try:
        change = s._decode(line)
    except StatusError as exc:
        return ("error", exc.code, s.resource_version, s.malformed, s.received)
    if change is None:
        return (None, s.resource_version, s.malformed, s.received)
    return (change.type, change.object, change.resource_version, change.raw,
            s.resource_version, s.malformed, s.received)  # fmt: skip


@pytest.mark.parametrize("kind", [ADDED, MODIFIED, DELETED])
def test_a_compact_line_decodes_once_to_the_servers_exact_bytes(kind: str) -> None:
    line = b'{"type":"%s","object":%s}' % (kind.encode(), OBJECT)
    got = outcome(line)
    assert got[0] == kind
    assert got[3] == OBJECT
    assert got[2] == "4711"
    assert isinstance(got[1], Event) and got[1].count == 3
    # The same notification, spaced as another encoder would write it: the envelope path.
    spaced = msgspec.json.format(line, indent=1).replace(b"\n", b"")
    assert spaced != line
    raw = bytes(_envelope_decoder.decode(spaced).object)
    assert raw != OBJECT
    assert outcome(spaced)[:4] == (kind, got[1], "4711", raw)


@pytest.mark.parametrize(
    "line",
    [
        b'{"type":"ADDED","object":%s }' % OBJECT,  # a space before the last brace
        b'{"type":"ADDED","object": %s}' % OBJECT,  # a space before the object
        b'{"type":"ADDED","object":%s,"x":1}' % OBJECT,  # another key after the object
        b'{"type":"ADDED","object":%s,"type":"MODIFIED"}' % OBJECT,  # the last type wins
        b'{"type":"ADDED","object":%s}}' % OBJECT,  # trailing garbage
        b'{"type":"ADDED","object":%s}' % OBJECT.replace(b'"count":3', b'"count":"3"'),
        b'{"type":"ADDED","object":%s}' % OBJECT[:-1],  # torn object
        b'{"type":"ADDED","object":{"metadata":{"resourceVersion":"9"},"count":"x"}}',
        b'{"type":"ADDED","object":"{}"}',
        b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12"}}}',
        b'{"type":"ERROR","object":{"code":410,"message":"too old"}}',
        b'{"type":"added","object":%s}' % OBJECT,
    ],
)
def test_every_other_line_takes_the_envelope_path_with_the_same_result(line: bytes) -> None:
    logging.disable(logging.WARNING)
    try:
        got = outcome(line)
    finally:
        logging.disable(logging.NOTSET)
    # What the envelope decoder alone makes of the line.
    try:
        envelope = msgspec.json.decode(line, type=dict[str, Any])
    except msgspec.DecodeError:
        assert got[0] is None and got[2] == 1
        return
    kind = envelope["type"]
    if kind == "ERROR":
        assert got[:2] == ("error", 410)
    elif kind == BOOKMARK:
        assert got[0] == BOOKMARK and got[2] == "12"
    elif got[0] is not None:
        assert got[0] == kind
        assert got[3] == bytes(_envelope_decoder.decode(line).object)
    else:
        assert got[2] == 1  # counted as malformed
