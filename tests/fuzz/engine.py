"""A small mutational fuzzer: mutate real-shaped seeds, run a target, keep what escapes.

A target is a callable taking bytes that handles every documented outcome itself (a value, a
counted and skipped malformed object, the documented error class) and lets nothing else out:
any exception leaving it is a crash. Inputs come from the target's seeds through byte-level
mutations (flips, hostile bytes and tokens, truncation, deletion, duplication, splicing) and
structure-aware ones (a JSON value anywhere in the seed replaced by a hostile one). A crash is
minimised (chunks removed while the same exception still escapes from the same place) and
reported with the seed and case number that reproduce it.
"""

from __future__ import annotations

import json
import random
import time
import traceback
import zlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Crash", "Mutator", "Outcome", "Target", "fuzz", "minimise"]

# The function under test: True when the input became a value (got past the decoders).
Run = Callable[[bytes], bool]

# Bytes and tokens that have broken parsers before: invalid UTF-8, escapes, numbers at and past
# every integer width, times at the edges of the calendar, nesting past the recursion limit.
HOSTILE_BYTES = b'\x00\x7f\x80\xbf\xc0\xff"\\{}[]:,\n\r \t-+.eE0'
HOSTILE_TOKENS: tuple[bytes, ...] = (
    b'"\xff"',
    b'"\xc3"',
    b'"\\ud800"',
    b'"\\udfff\\ud800"',
    b'"\\u0000"',
    b'"\\u001b]0;x\\u0007"',
    b"-1",
    b"0",
    b"2147483647",
    b"2147483648",
    b"-2147483649",
    b"9223372036854775807",
    b"9223372036854775808",
    b"18446744073709551616",
    b"1" * 400,
    b"1e400",
    b"-0.0",
    b"1.5",
    b"true",
    b"null",
    b"[]",
    b"{}",
    b'""',
    b'"' + b"x" * 70_000 + b'"',
    b'"9999-12-31T23:59:59-01:00"',
    b'"0001-01-01T00:00:00+01:00"',
    b'"0001-01-01T00:00:00Z"',
    b'"9999-12-31T23:59:59.999999999Z"',
    b'"2024-02-30T00:00:00Z"',
    b'"2024-01-01T24:00:00Z"',
    b'"2024-01-01T00:00:60Z"',
    b'"2024-01-01T00:00:00+23:59"',
    b'"2024-01-01t00:00:00z"',
    b"[" * 3000 + b"]" * 3000,
    b'{"a":' * 1200 + b"1" + b"}" * 1200,
    b"[" * 990 + b"]" * 990,
)
HOSTILE_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    2**31,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    1.5,
    -0.0,
    1e308,
    "",
    "x" * 10_000,
    "\x00",
    "\x1b]0;owned\x07",
    "\ud800",
    "ü\u202e",
    "abc",
    "410",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:01Z",
    "9999-12-31T23:59:59Z",
    "2024-13-01T00:00:00Z",
    "*",
    "kube-*",
    "[",
    "(",
    [],
    {},
    [None],
    {"": None},
    {"a": {"b": []}},
)
_DEEP_MARK = "\x00deep\x00"


@dataclass
class Crash:
    """An exception that escaped a target, with what reproduces it."""

    target: str
    error: str
    where: str
    data: bytes
    seed: int
    case: int
    trace: str = ""

    def key(self) -> tuple[str, str]:
        return (self.error, self.where)

    def describe(self) -> str:
        shown = repr(self.data[:300]) + ("…" if len(self.data) > 300 else "")
        return (
            f"{self.target}: {self.error} at {self.where} (seed {self.seed}, case {self.case}, "
            f"{len(self.data)} bytes): {shown}"
        )


@dataclass
class Outcome:
    """What one target's run found."""

    target: str
    cases: int = 0
    accepted: int = 0
    seconds: float = 0.0
    crashes: dict[tuple[str, str], Crash] = field(default_factory=dict)


class Target(Protocol):
    """A fuzz target: seeds, and a session that gives the function under test.

    ``tokens`` are the hostile tokens its mutants get, ``nesting`` the depth of the deeply
    nested values they get, ``max_size`` caps an input's length.
    """

    name: str
    tokens: tuple[bytes, ...]
    nesting: int
    max_size: int | None

    def seeds(self) -> Sequence[bytes]: ...

    def session(self) -> AbstractContextManager[Run]: ...


def _where(exc: BaseException) -> str:
    # The innermost frame in kubevents' own code, else the innermost: the place to fix.
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/kubevents/" in f.filename] or frames
    frame = ours[-1] if ours else None
    if frame is None:
        return "?"
    return f"{frame.filename.rsplit('/src/', 1)[-1]}:{frame.lineno} {frame.name}"


def run_case(run: Run, data: bytes) -> BaseException | bool:
    """The exception that escaped, else whether the input was accepted."""
    try:
        return run(data)
    except Exception as exc:
        return exc


class Mutator:
    """Derives new inputs from seeds; deterministic for a given ``random.Random``."""

    def __init__(
        self,
        rng: random.Random,
        seeds: Sequence[bytes],
        tokens: Sequence[bytes] = HOSTILE_TOKENS,
        max_size: int | None = None,
        nesting: int = 3000,
    ) -> None:
        self.rng = rng
        self.seeds = list(seeds)
        self.tokens = list(tokens)
        self.max_size = max_size
        self.deep = b"[" * nesting + b"]" * nesting
        self._parsed: dict[int, Any] = {}

    def __call__(self) -> bytes:
        rng = self.rng
        data = rng.choice(self.seeds)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            data = self._json(data) if rng.random() < 0.45 else self._bytes(data)
        return data if self.max_size is None else data[: self.max_size]

    def _bytes(self, data: bytes) -> bytes:
        rng = self.rng
        n = len(data)
        at = rng.randrange(n + 1)
        kind = rng.randrange(9)
        if kind == 0 and n:  # flip a bit
            i = rng.randrange(n)
            return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]
        if kind == 1 and n:  # a hostile byte
            i = rng.randrange(n)
            return data[:i] + bytes([rng.choice(HOSTILE_BYTES)]) + data[i + 1 :]
        if kind == 2:  # a hostile token, inserted or replacing a run
            end = min(n, at + rng.randrange(12))
            return data[:at] + rng.choice(self.tokens) + data[end:]
        if kind == 3:  # truncate
            return data[:at]
        if kind == 4 and n:  # delete a run
            return data[:at] + data[at + rng.randrange(1, 64) :]
        if kind == 5 and n:  # duplicate a run
            end = min(n, at + rng.randrange(1, 256))
            return data[:end] + data[at:end] + data[end:]
        if kind == 6:  # splice with another seed
            other = rng.choice(self.seeds)
            return data[:at] + other[rng.randrange(len(other) + 1) :]
        if kind == 7:  # random bytes
            return data[:at] + rng.randbytes(rng.randrange(1, 16)) + data[at:]
        return data + b"\n" + rng.choice(self.seeds)  # one more line / document

    def _json(self, data: bytes) -> bytes:
        """Replace, delete or add one value anywhere in a JSON seed."""
        key = zlib.crc32(data)
        try:
            doc = self._parsed[key] if key in self._parsed else json.loads(data)
        except (ValueError, RecursionError):
            return self._bytes(data)
        if len(self._parsed) < 4096:
            self._parsed[key] = doc
        doc = json.loads(json.dumps(doc))  # a private copy to change
        rng = self.rng
        slots = list(_slots(doc, 0))
        if not slots:
            return self._bytes(data)
        parent, slot = rng.choice(slots)
        choice = rng.randrange(5)
        if choice == 0 and isinstance(parent, dict):
            del parent[slot]
        elif choice == 1 and isinstance(parent, dict):
            parent[rng.choice(("extra", "", "count", "metadata", slot + "x"))] = self._value()
        else:
            parent[slot] = self._value()
        separators = rng.choice(((",", ":"), (", ", ": "), (",\n", " : ")))
        text = json.dumps(doc, separators=separators, ensure_ascii=rng.random() < 0.5)
        encoded = text.encode("utf-8", "surrogatepass")
        return encoded.replace(json.dumps(_DEEP_MARK).encode(), self.deep)

    def _value(self) -> Any:
        rng = self.rng
        if rng.random() < 0.08:
            return _DEEP_MARK
        if rng.random() < 0.2:  # a well-typed but unusual value
            return rng.choice((rng.randrange(-(2**70), 2**70), rng.random() * 1e6, "ä" * 3))
        return rng.choice(HOSTILE_VALUES)


def _slots(doc: Any, depth: int) -> Any:
    if depth > 12:
        return
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield doc, k
            yield from _slots(v, depth + 1)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield doc, i
            yield from _slots(v, depth + 1)


def minimise(
    run: Run, data: bytes, crash_key: tuple[str, str], *, budget: int = 600, seconds: float = 5.0
) -> bytes:
    """A smaller input that still escapes with the same error from the same place.

    At most ``budget`` runs and about ``seconds``: a repro needs to be readable, not minimal.
    """
    deadline = time.perf_counter() + seconds

    def same(candidate: bytes) -> bool:
        exc = run_case(run, candidate)
        return isinstance(exc, BaseException) and (type(exc).__name__, _where(exc)) == crash_key

    chunk = max(1, len(data) // 2)
    while chunk >= 1 and budget > 0 and time.perf_counter() < deadline:
        i, shrunk = 0, False
        while i < len(data) and budget > 0 and time.perf_counter() < deadline:
            candidate = data[:i] + data[i + chunk :]
            budget -= 1
            if same(candidate):
                data, shrunk = candidate, True
            else:
                i += chunk
        if not shrunk:
            chunk //= 2
    return data


def fuzz(
    target: Target,
    cases: int,
    seed: int,
    *,
    on_crash: Callable[[Crash], None] | None = None,
    minimise_budget: int = 600,
) -> Outcome:
    """Run ``cases`` inputs (the seeds first, then mutants) through ``target``."""
    outcome = Outcome(target.name)
    rng = random.Random(seed ^ zlib.crc32(target.name.encode()))
    seeds = list(target.seeds())
    mutate = Mutator(rng, seeds, target.tokens, target.max_size, target.nesting)
    started = time.perf_counter()
    with target.session() as run:
        for case in range(cases):
            data = seeds[case] if case < len(seeds) else mutate()
            exc = run_case(run, data)
            outcome.cases += 1
            if not isinstance(exc, BaseException):
                outcome.accepted += exc
                continue
            key = (type(exc).__name__, _where(exc))
            if key in outcome.crashes:
                continue
            small = minimise(run, data, key, budget=minimise_budget)
            trace = "".join(traceback.format_exception(exc, limit=-6))
            crash = Crash(target.name, key[0], key[1], small, seed, case, trace)
            outcome.crashes[key] = crash
            if on_crash is not None:
                on_crash(crash)
    outcome.seconds = time.perf_counter() - started
    return outcome
