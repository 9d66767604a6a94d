"""Hypothesis strategies for hostile input: Event-shaped JSON whose every field may lie.

Each field is usually of the right type with an unusual value (times at the calendar's edges
or with odd offsets, counts past every integer width, text with control characters and lone
surrogates) and sometimes any JSON value at all, nested or not. The byte encodings vary too:
spacing, escaping, and UTF-8 that a lone surrogate makes invalid.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import yaml
from hypothesis import strategies as st

from .spool_targets import SCRIPT_BYTES

__all__ = ["STRATEGIES"]

_ANY_CHAR = st.characters(codec=None, exclude_categories=())
texts = st.text(_ANY_CHAR, max_size=24) | st.sampled_from(
    ["", "kube-system", "Warning", "Normal", "*", "\x1b]0;x\x07", "ü\u202e", "a" * 300]
)
integers = st.integers(-(2**70), 2**70) | st.sampled_from(
    [0, 1, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, 2**64]
)
scalars = st.none() | st.booleans() | integers | st.floats(allow_nan=False) | texts
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


def _rfc3339(moment: datetime, offset_minutes: int, digits: int) -> str:
    local = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{moment.microsecond:06d}{moment.microsecond:03d}"[:digits]
    if offset_minutes == 0:
        return text + "Z"
    sign = "+" if offset_minutes > 0 else "-"
    return f"{text}{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"


# Valid RFC 3339 anywhere in years 1-9999 with any offset (the edges overflow in UTC), and
# strings that are almost times.
timestamps = (
    st.builds(
        _rfc3339,
        st.datetimes(),
        st.integers(-(23 * 60 + 59), 23 * 60 + 59) | st.just(0),
        st.sampled_from([0, 0, 3, 6, 9]),
    )
    | st.sampled_from(
        [
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:00:00+01:00",
            "0001-01-01T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01",
        ]
    )
    | texts
)


def maybe(typed: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually ``typed``; sometimes any JSON value (a type the decoder must refuse)."""
    return st.one_of(typed, typed, typed, json_values)


def _obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={k: maybe(v) for k, v in fields.items()})


string_maps = st.dictionaries(texts, texts, max_size=4)
references = _obj(
    kind=texts,
    namespace=texts,
    name=texts,
    uid=texts,
    apiVersion=texts,
    resourceVersion=texts,
    fieldPath=texts,
)
metadata = _obj(
    name=texts,
    namespace=texts,
    uid=texts | st.just("u-1"),
    resourceVersion=texts,
    generation=integers,
    creationTimestamp=timestamps,
    deletionTimestamp=timestamps,
    deletionGracePeriodSeconds=integers,
    labels=string_maps,
    annotations=string_maps,
    ownerReferences=st.lists(_obj(kind=texts, name=texts, uid=texts, controller=st.booleans())),
    managedFields=st.lists(
        _obj(
            manager=texts,
            operation=texts,
            apiVersion=texts,
            time=timestamps,
            fieldsType=texts,
            fieldsV1=st.dictionaries(texts, json_values, max_size=3),
        ),
        max_size=2,
    ),
)
events = _obj(
    kind=st.just("Event"),
    apiVersion=st.sampled_from(["v1", "events.k8s.io/v1"]),
    metadata=metadata,
    involvedObject=references,
    regarding=references,
    related=references,
    reason=texts,
    message=texts,
    note=texts,
    source=_obj(component=texts, host=texts),
    firstTimestamp=timestamps,
    lastTimestamp=timestamps,
    eventTime=timestamps,
    count=integers,
    deprecatedCount=integers,
    type=texts,
    action=texts,
    series=_obj(count=integers, lastObservedTime=timestamps),
    reportingComponent=texts,
    reportingController=texts,
    reportingInstance=texts,
)


@st.composite
def encoded(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> bytes:
    """``values`` as JSON bytes, spaced and escaped one of several ways."""
    value = draw(values)
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (",\n ", " : ")]))
    text = json.dumps(value, separators=separators, ensure_ascii=draw(st.booleans()))
    # Without ensure_ascii a lone surrogate stays raw: encoded as such, it is invalid UTF-8.
    return text.encode("utf-8", "surrogatepass")


watch_objects = events | json_values
watch_lines = encoded(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]) | texts,
            "object": watch_objects,
        }
    )
)
list_pages = encoded(
    st.fixed_dictionaries(
        {"kind": st.just("EventList"), "items": maybe(st.lists(watch_objects, max_size=4))},
        optional={
            "metadata": _obj(resourceVersion=texts, remainingItemCount=integers).map(
                lambda m: m | {"continue": "eyJ2Ijoi"}
            ),
        },
    )
)
statuses = encoded(
    _obj(
        kind=st.just("Status"),
        status=texts,
        code=integers | st.sampled_from([410, 500, 504]),
        reason=texts,
        message=texts,
        details=_obj(name=texts, kind=texts, causes=st.lists(_obj(reason=texts, field=texts))),
    )
    | json_values
)

durations = st.one_of(
    st.integers(-5, 10**6),
    st.floats(),
    st.from_regex(r"\A[0-9]{1,6}(\.[0-9]{1,3})?(ms|s|m|h|d)?\Z"),
    texts,
)
sinks = st.one_of(
    _obj(
        type=st.just("sqlite"),
        path=texts,
        retention_days=st.floats() | st.none(),
        synchronous=st.sampled_from(["full", "normal", "off"]),
        name=texts,
    ),
    _obj(type=st.just("jsonl"), path=texts, max_bytes=integers, backups=integers, name=texts),
    _obj(
        type=st.just("webhook"),
        url=st.sampled_from(["https://h.example/x", "ftp://x"]) | texts,
        headers=string_maps,
        timeout=durations,
        format=st.sampled_from(["array", "jsonl"]),
    ),
    _obj(
        type=st.sampled_from(["elasticsearch", "opensearch"]),
        hosts=st.lists(st.sampled_from(["http://es:9200", "es:9200"]) | texts, max_size=2),
        index=texts,
        mode=st.sampled_from(["daily", "data_stream"]),
        shards=integers,
        max_bulk_bytes=integers,
        version=texts,
        product=st.sampled_from(["opensearch"]),
    ),
)
rules = _obj(
    name=texts,
    namespace=texts | st.lists(texts, max_size=2),
    kind=texts,
    type=texts,
    reason=texts | st.lists(texts, max_size=2),
    source=texts,
    message=texts | st.sampled_from(["(", "^a+$", "[", "(?P<x>"]),
)
configs = _obj(
    cluster_name=texts,
    namespace=texts,
    field_selector=texts,
    label_selector=texts,
    page_size=integers,
    watch_timeout=durations,
    state_ttl=durations,
    checkpoint_interval=durations,
    buffer=_obj(
        queue_size=integers,
        max_batch_size=integers,
        flush_delay=durations,
        max_concurrency=integers,
    ),
    sinks=st.lists(sinks, max_size=3),
    rules=_obj(drop=st.lists(rules, max_size=2), match=st.lists(rules, max_size=2)),
    listen=texts | st.sampled_from(["127.0.0.1:9090", ":0", "h:99999"]),
    health=_obj(stall_after=durations, sink_failing_after=durations),
    time_window=_obj(past=durations, future=durations),
    shutdown_timeout=durations,
    log_format=st.sampled_from(["console", "json"]) | texts,
    log_level=texts,
)


@st.composite
def config_files(draw: st.DrawFn) -> bytes:
    """A config as the operator writes it: YAML (any style) or JSON."""
    config = draw(configs)
    if draw(st.booleans()):
        return yaml.safe_dump(config, allow_unicode=draw(st.booleans())).encode("utf-8", "replace")
    return draw(encoded(st.just(config)))


# For each fuzz target: the inputs its property test draws.
STRATEGIES: dict[str, st.SearchStrategy[bytes]] = {
    "watch_line": watch_lines,
    "watch_stream": st.lists(watch_lines, min_size=1, max_size=4).map(
        lambda lines: b"\n".join(lines) + b"\n"
    ),
    "list_page": list_pages,
    "status": statuses,
    "model": encoded(events),
    "exporter_path": encoded(events),
    "retry_after": (st.text(_ANY_CHAR, max_size=40) | st.datetimes().map(format_datetime)).map(
        lambda text: text.encode("utf-8", "surrogatepass")
    ),
    "config": config_files(),
    # A spool scenario is a script of choices: any bytes are one.
    "spool_segments": st.binary(max_size=SCRIPT_BYTES),
    "spool_buffer": st.binary(max_size=SCRIPT_BYTES),
}
