"""The parity harness: traces, the client-go program, and the comparison of two runs.

A run (``TraceRun``) is the same JSON document from either side: every call the recording sink
was given (verb, step, target, body, outcome), in order, and the Events stored at the end.
``normalise`` turns a run into what must be identical between client-go and kubevents: names
become "the k-th name this run used" plus their shape, the namespace becomes ``$ns``, and times
that come from the recorder's real clock become ``real`` (times from the correlator's fake clock
stay exact, as offsets from the trace's start).
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from xcheck.gobuild import cached_go_build

__all__ = [
    "GO_MODULE",
    "NAMESPACE_PLACEHOLDER",
    "RUN_TIMEOUT",
    "TRACES",
    "ApiCall",
    "GoBench",
    "Normalised",
    "Trace",
    "TraceRun",
    "diff",
    "go_binary",
    "load_trace",
    "normalise",
    "run_go_bench",
    "run_go_trace",
    "summary",
    "trace_paths",
]

XCHECK = Path(__file__).resolve().parent
GO_MODULE = XCHECK / "go"
TRACES = XCHECK / "traces"
NAMESPACE_PLACEHOLDER = "$ns"
# A bound for either Go mode; a healthy local run takes seconds.
RUN_TIMEOUT = 300.0


class TraceObject(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    kind: str
    name: str
    namespace: str = NAMESPACE_PLACEHOLDER
    uid: str = ""
    api_version: str = ""
    resource_version: str = ""
    field_path: str = ""


class TraceSource(msgspec.Struct, forbid_unknown_fields=True):
    component: str
    host: str = ""


class TraceStep(msgspec.Struct, forbid_unknown_fields=True):
    object: TraceObject
    type: str
    reason: str
    message: str
    advance: int = 0
    source: TraceSource | None = None


class TraceOptions(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    lru_cache_size: int = 0


class TraceExpect(msgspec.Struct, forbid_unknown_fields=True):
    creates: int
    patches: int
    failed: int


class Trace(msgspec.Struct, forbid_unknown_fields=True):
    """A scripted sequence of ``event()`` calls, with fake-clock advances between them."""

    name: str
    start: datetime
    source: TraceSource
    steps: list[TraceStep]
    description: str = ""
    options: TraceOptions = msgspec.field(default_factory=TraceOptions)
    expect: TraceExpect | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError(f"trace {self.name}: start must carry a timezone")
        for i, step in enumerate(self.steps):
            if step.type not in ("Normal", "Warning"):
                # Such events never reach the correlator, and both drivers count its clock reads.
                raise ValueError(f"trace {self.name}: step {i}: type {step.type!r}")
            if step.advance < 0:
                raise ValueError(f"trace {self.name}: step {i}: negative advance")

    def source_of(self, step: TraceStep) -> TraceSource:
        return step.source if step.source is not None else self.source

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=sum(step.advance for step in self.steps))


class ApiCall(msgspec.Struct):
    verb: str  # create | update | patch
    step: int  # the trace step whose event was being written
    namespace: str
    name: str
    body: str  # create/update: the Event as JSON; patch: the patch exactly as sent
    code: int = 0  # 0: success; else the HTTP status of the error (-1: not a status error)
    reason: str = ""  # the Status reason of the error (AlreadyExists, NotFound, Invalid, ...)
    error: str = ""  # the error text: informational only, the wording differs by language


class TraceRun(msgspec.Struct):
    trace: str
    calls: list[ApiCall]
    events: list[dict[str, Any]]


def load_trace(path: Path) -> Trace:
    return msgspec.json.decode(path.read_bytes(), type=Trace)


def trace_paths() -> list[Path]:
    return sorted(TRACES.glob("*.json"))


# -- the Go program ---------------------------------------------------------------------------


def go_binary() -> Path:
    """The client-go program, built on first use and cached by a hash of its sources."""
    return cached_go_build(GO_MODULE, ".", "xcheck", "xcheck")


async def _run(args: list[str]) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(RUN_TIMEOUT):
            stdout, stderr = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"{args[0]} did not finish within {RUN_TIMEOUT:.0f}s: {args}") from None
    if proc.returncode != 0:
        tail = stderr.decode(errors="replace")[-4000:]
        raise RuntimeError(f"{args} exited with {proc.returncode}:\n{tail}")
    return stdout


async def run_go_trace(binary: Path, kubeconfig: Path, namespace: str, trace: Path) -> TraceRun:
    """Run ``trace`` through client-go's tools/record into ``namespace``."""
    out = await _run(
        [str(binary), "-kubeconfig", str(kubeconfig), "-namespace", namespace,
         "-trace", str(trace)]
    )  # fmt: skip
    return msgspec.json.decode(out, type=TraceRun)


class GoBench(msgspec.Struct):
    implementation: str
    version: str
    events: int
    skipped: int
    patches: int
    seconds: float
    per_second: float
    gomaxprocs: int


async def run_go_bench(binary: Path, trace: Path, events: int) -> GoBench:
    """client-go's EventCorrelate over ``events`` events cycled from ``trace`` (no API)."""
    out = await _run([str(binary), "-bench-correlate", str(events), "-trace", str(trace)])
    return msgspec.json.decode(out, type=GoBench)


# -- normalisation ----------------------------------------------------------------------------

# Recorder names are "<object>.<hex nanoseconds>"; a UUID replaces names that are not DNS-1123.
_NAME_RE = re.compile(r"^(?P<object>.*)\.(?P<nanos>-?[0-9a-f]+)$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Normaliser:
    def __init__(self, trace: Trace, namespace: str) -> None:
        self.trace = trace
        self.namespace = namespace
        self.names: dict[str, str] = {}

    def time(self, value: str | None) -> str | None:
        """Fake-clock times as ``T+<seconds>``; anything else came from a real clock."""
        if value is None:
            return None
        when = datetime.fromisoformat(value)
        return self._instant(when)

    def _instant(self, when: datetime) -> str:
        if self.trace.start <= when <= self.trace.end:
            offset = when - self.trace.start
            return f"T+{offset / timedelta(seconds=1):g}"
        return "real"

    def name(self, value: str) -> str:
        """``#<k> <shape>``: the k-th distinct name the run used, and how it was made."""
        known = self.names.get(value)
        if known is not None:
            return known
        match = _NAME_RE.match(value)
        if _UUID_RE.match(value):
            shape = "uuid"
        elif match:
            nanos = int(match["nanos"], 16)
            try:
                instant = self._instant(_EPOCH + timedelta(microseconds=nanos // 1000))
            except OverflowError:
                instant = "?"
            shape = f"{match['object']}.@{instant}"
        else:
            shape = "?" + value
        token = f"#{len(self.names)} {shape}"
        self.names[value] = token
        return token

    def ns(self, value: str) -> str:
        return NAMESPACE_PLACEHOLDER if value == self.namespace else value

    def event(self, pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for key, value in pairs:
            if key == "metadata":
                value = {
                    k: self.name(v) if k == "name" else self.ns(v) if k == "namespace" else v
                    for k, v in value
                }
            elif key in ("involvedObject", "related") and value is not None:
                value = {k: self.ns(v) if k == "namespace" else v for k, v in value}
            elif isinstance(value, list):
                value = dict(value)
            elif key in ("firstTimestamp", "lastTimestamp"):
                value = self.time(value)
            out.append((key, value))
        return out

    def patch(self, body: str) -> str:
        # The exact bytes (key order, escaping) must match; only the timestamp value varies.
        return re.sub(
            r'"lastTimestamp":"([^"]*)"',
            lambda m: f'"lastTimestamp":"{self.time(m[1])}"',
            body,
        )


def _pairs(raw: str) -> list[tuple[str, Any]]:
    value: list[tuple[str, Any]] = json.loads(raw, object_pairs_hook=list)
    return value


class Normalised(msgspec.Struct):
    calls: list[dict[str, Any]]
    events: list[dict[str, Any]]

    def to_text(self) -> str:
        """Two lines per call, one per stored Event: what the diff of two runs shows."""
        lines = []
        for c in self.calls:
            head = f"step {c['step']}: {c['verb']} {c['namespace']}/{c['name']}"
            lines.append(f"{head}: {c['outcome']}")
            lines.append(f"    {c['body']}")
        lines.append("stored:")
        lines += [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in self.events]
        return "\n".join(lines)


# What a stored Event must agree on (managedFields, uid, resourceVersion, creationTimestamp
# are the server's business).
_STORED_FIELDS = (
    "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
    "type", "eventTime", "series", "action", "related", "reportingComponent",
    "reportingInstance",
)  # fmt: skip


def normalise(run: TraceRun, trace: Trace, namespace: str) -> Normalised:
    n = _Normaliser(trace, namespace)
    calls: list[dict[str, Any]] = []
    for call in run.calls:
        entry: dict[str, Any] = {
            "verb": call.verb,
            "step": call.step,
            "namespace": n.ns(call.namespace),
            "name": n.name(call.name),
        }
        if call.verb == "patch":
            entry["body"] = n.patch(call.body)
        else:
            # One line per body, keys in the order they were encoded: the text diff checks that
            # order too.
            body = dict(n.event(_pairs(call.body)))
            entry["body"] = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        entry["outcome"] = "ok" if call.code == 0 else f"{call.code} {call.reason}".strip()
        calls.append(entry)

    events: list[dict[str, Any]] = []
    for stored in run.events:
        event: dict[str, Any] = {"name": n.name(stored["metadata"]["name"])}
        for key in _STORED_FIELDS:
            value = stored.get(key)
            if key in ("involvedObject", "related") and isinstance(value, dict):
                value = {k: n.ns(v) if k == "namespace" else v for k, v in value.items()}
            elif key in ("firstTimestamp", "lastTimestamp"):
                value = n.time(value)
            event[key] = value
        events.append(event)
    # Matched by involved object, reason and message (then the rest), not by the server's order.
    events.sort(key=lambda e: json.dumps([e["involvedObject"], e["reason"], e["message"], e]))
    return Normalised(calls=calls, events=events)


def diff(go: Normalised, python: Normalised, limit: int = 120) -> str:
    """A unified diff of the two normalised runs ("" when identical)."""
    lines = list(
        difflib.unified_diff(
            go.to_text().splitlines(), python.to_text().splitlines(),
            "client-go", "kubevents", lineterm="", n=6,
        )
    )  # fmt: skip
    if len(lines) > limit:
        lines = [*lines[:limit], f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)


def summary(run: TraceRun) -> dict[str, int]:
    """Counts to check against a trace's ``expect``: every call made, and how many failed."""
    return {
        "creates": sum(c.verb == "create" for c in run.calls),
        "patches": sum(c.verb == "patch" for c in run.calls),
        "failed": sum(c.code != 0 for c in run.calls),
    }
