"""``kubevents query`` / ``stats`` against hostile Event text and damaged stores.

Event text is written by whoever may create Events: the table must show control characters
and bidi overrides as escapes, never pass them to the terminal. A damaged store is exit 2 with
a message, like a missing one, never a traceback.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from export.factories import make_occurrence, write_store
from kubevents.cli._query import query
from kubevents.cli._stats import stats
from kubevents.export import Occurrence
from kubevents.export._document import encode_lines

# What must never reach a terminal raw: C0, DEL, C1, bidi marks / overrides / isolates.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

TITLE = "\x1b]0;owned\x07"  # sets the terminal title
HOSTILE: dict[str, Any] = {
    "message": f"pulled {TITLE}image \u202eexe.txt\u202c done\x9b2J\r\nline 2\x7f",
    "reason": "Back\x1b[31mOff",
    "object_name": "web\u20660",
    "component": "kube\x07let",
    "host": "node\u200f1",
}


def run(command: object, db: Path, *args: str) -> Result:
    return CliRunner().invoke(command, ["--db", str(db), *args])  # type: ignore[arg-type]


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, list[Occurrence]]:
    now = datetime.now(UTC).replace(microsecond=0)
    occurrences = [make_occurrence(first=now - timedelta(minutes=20), **HOSTILE)]
    path = tmp_path / "kubevents.db"
    write_store(path, occurrences)
    return path, occurrences


@pytest.mark.parametrize("args", [[], ["-o", "wide"], ["-n", "shop"]])
def test_the_table_escapes_control_characters_in_every_column(
    hostile: tuple[Path, list[Occurrence]], args: list[str]
) -> None:
    result = run(query, hostile[0], *args)
    assert result.exit_code == 0, result.output
    assert UNSAFE.search(result.stdout) is None
    out = result.stdout
    assert (
        "pulled \\x1b]0;owned\\x07image \\u202eexe.txt\\u202c done\\x9b2J\\x0d line 2\\x7f" in out
    )
    assert "Back\\x1b[31mOff" in out and "pod/web\\u20660" in out
    if args == ["-o", "wide"]:
        assert "kube\\x07let, node\\u200f1" in out
    # Escaping happens before alignment: the MESSAGE column still starts where its header does.
    header, row = out.splitlines()
    assert row[header.index("MESSAGE") - 3 : header.index("MESSAGE")] == "   "


def test_stats_escapes_too(hostile: tuple[Path, list[Occurrence]]) -> None:
    result = run(stats, hostile[0])
    assert result.exit_code == 0, result.output
    assert UNSAFE.search(result.stdout) is None
    assert "Back\\x1b[31mOff" in result.stdout and "web\\u20660" in result.stdout


def test_json_output_is_unchanged(hostile: tuple[Path, list[Occurrence]]) -> None:
    path, occurrences = hostile
    result = run(query, path, "-o", "json")
    assert result.exit_code == 0, result.output
    # Byte for byte the export document: JSON escapes C0 itself, and a parser gets the text.
    assert result.stdout_bytes == encode_lines(occurrences)
    assert b"\x1b" not in result.stdout_bytes and b"\\u001b]0;owned\\u0007" in result.stdout_bytes


# -- damaged stores ---------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Path:
    now = datetime.now(UTC).replace(microsecond=0)
    path = tmp_path / "kubevents.db"
    # Enough rows for many pages, so damage past the header page hits the table and indices.
    write_store(
        path,
        [
            make_occurrence(object_name=f"pod-{i}", message="x" * 200, first=now, count=1)
            for i in range(400)
        ],
    )
    assert not Path(f"{path}-wal").exists()  # closed cleanly: everything is in the main file
    return path


def _scribble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    noise = random.Random(7)
    for offset in range(4096, len(data)):
        data[offset] = noise.randrange(256)
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _drop_table(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DROP TABLE occurrences")
        conn.commit()


DAMAGE = {
    "random bytes after the header": _scribble,
    "truncated": _truncate,
    "no table": _drop_table,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize(
    ("command", "args"),
    [(query, []), (query, ["-o", "json"]), (query, ["--limit", "5"]), (stats, [])],
)
def test_a_damaged_store_is_exit_2_with_a_message(
    store: Path, damage: str, command: object, args: list[str]
) -> None:
    DAMAGE[damage](store)
    result = run(command, store, *args)
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cannot read"), result.stderr


@pytest.mark.parametrize(
    ("update", "args", "message"),
    [
        ("UPDATE occurrences SET time = 'yesterday'", [], "column time holds str"),
        ("UPDATE occurrences SET reason = x'00ff'", [], "column reason holds bytes"),
        ("UPDATE occurrences SET time = 9223372036854775807", [], "malformed"),
        ("UPDATE occurrences SET own_time = 'soon'", [], "malformed"),
        ("UPDATE occurrences SET event = 'not json'", ["-o", "json"], "unreadable Event"),
        ("UPDATE occurrences SET event = 'not json'", ["-o", "wide"], "unreadable Event"),
        # The stored Event: a damaged frame, an unknown dictionary, a frame that claims to
        # inflate to a gigabyte, nothing at all. The table shows the message, read from it.
        ("UPDATE occurrences SET event = x'01deadbeef'", [], "unreadable Event: damaged"),
        ("UPDATE occurrences SET event = substr(event, 1, 20)", ["-o", "json"], "damaged"),
        (
            "UPDATE occurrences SET event = CAST(x'07' || substr(event, 2) AS BLOB)",
            [],
            "unknown dictionary 7",
        ),
        # Dictionary 1, a magicless frame header: single segment, 8-byte size 2**30.
        ("UPDATE occurrences SET event = x'01e00000004000000000'", ["-o", "json"], "claims"),
        ("UPDATE occurrences SET event = x''", ["-o", "json"], "unreadable Event: empty"),
    ],
)
def test_a_row_no_writer_made_is_exit_2_naming_it(
    store: Path, update: str, args: list[str], message: str
) -> None:
    with closing(sqlite3.connect(store)) as conn:
        conn.execute(update + " WHERE seq = 3")
        conn.commit()
    result = run(query, store, *args)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_a_damaged_event_is_counted_by_a_search_that_goes_on(store: Path) -> None:
    with closing(sqlite3.connect(store)) as conn:
        conn.execute("UPDATE occurrences SET event = x'01deadbeef' WHERE seq = 3")
        conn.commit()
    result = run(query, store, "--grep", "XXX", "-o", "json")  # every message matches
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    assert "1 stored occurrences hold an unreadable Event" in result.stderr, result.stderr
    assert len(result.stdout.splitlines()) == 399  # every other one
    assert run(stats, store).exit_code == 0  # stats reads no Event
