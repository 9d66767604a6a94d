"""Schema 2: what the store drops, the same query output, the migration of a version 1 store.

The version 1 stores here are written by ``bench._store_support.write_v1_store``, which writes
rows exactly as the version 1 sink did (its docstring documents that layout), from the
realistic stream of the pipeline benchmark (``managedFields`` as the apiserver writes them).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import msgspec
import pytest
import zstandard
from bench._store_support import occurrences, write_v1_store
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from kubevents.cli._query import query
from kubevents.export import EventFields, Occurrence
from kubevents.export._document import encode_lines
from kubevents.export.sinks.sqlite import (
    SCHEMA_VERSION,
    shipped_codec,
    stored_uid,
    strip_managed_fields,
    uid_text,
)
from kubevents.export.store import EventStore, QueryFilter

from ...factories import make_occurrence, write_store

REALISTIC = list(occurrences(400))


def stripped(occ: Occurrence) -> Occurrence:
    return msgspec.structs.replace(occ, raw=strip_managed_fields(occ.raw))


def in_query_order(batch: list[Occurrence]) -> list[Occurrence]:
    """As ``query`` returns them: by filing time, then arrival."""
    return [o for _, o in sorted(enumerate(batch), key=lambda p: (p[1].filing_time, p[0]))]


def json_output(path: Path, *args: str) -> bytes:
    result = CliRunner().invoke(query, ["--db", str(path), "-o", "json", *args])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_managed_fields_are_cut_and_every_other_byte_kept() -> None:
    for occ in REALISTIC:
        raw, cut = occ.raw, strip_managed_fields(occ.raw)
        expected = msgspec.json.decode(raw)
        del expected["metadata"]["managedFields"]
        assert msgspec.json.decode(cut) == expected
        # One contiguous cut: the bytes before and after it are the server's.
        head = next(i for i, (a, b) in enumerate(zip(raw, cut, strict=False)) if a != b)
        assert raw[:head] == cut[:head] and raw.endswith(cut[head:])
        assert b"managedFields" not in cut


@pytest.mark.parametrize(
    "raw",
    [
        b'{"metadata":{"name":"a"},"message":"no managedFields"}',
        # A second key of that name (an annotation may be called so): ambiguous, kept whole.
        b'{"metadata":{"annotations":{"managedFields":"x"},"managedFields":[{"a":1}]}}',
        # The same key after the field: ambiguous too.
        b'{"metadata":{"managedFields":[{"a":1}],"name":"a"},"related":{"managedFields":[]}}',
        # ... however many capitals come between (the scan looks for the key's capital first).
        b'{"metadata":{"managedFields":[{"a":1}],"name":"F"},"reason":"FailedMount",'
        b'"message":"FFF F\\"managedFields","related":{"managedFields":[]}}',
        # Not as Go writes it (a space after the colon): kept whole rather than guessed at.
        b'{"metadata":{"name":"a","managedFields": [{"a":1}]}}',
        b'{"metadata":{"managedFields":[{"a":1}]',  # not JSON
        b"\xff\xfe",
    ],
)
def test_what_is_not_cut_exactly_is_kept_whole(raw: bytes) -> None:
    assert strip_managed_fields(raw) == raw


@pytest.mark.parametrize(
    "raw",
    [
        *(occ.raw for occ in REALISTIC[:50]),
        b'{"metadata":{"annotations":{"managedFields":"x"},"managedFields":[{"a":1}]}}',
        b'{"metadata":{"name":"a","managedFields": [{"a":1}]}}',
        b'{"metadata":{"managedFields":[{"a":"}"}],"name":"a"},"reason":"R"}',
        b'{"metadata":{"managedFields":null,"name":"a"}}',
    ],
)
def test_the_value_the_exporter_decoded_cuts_exactly_what_a_decode_here_would(raw: bytes) -> None:
    kept = EventFields.from_json(raw).metadata.managed_fields
    assert bytes(kept)  # the exporter's decode kept it: the cut needs no second decode
    assert strip_managed_fields(raw, kept) == strip_managed_fields(raw)


def test_rows_compressed_with_plain_level_3_read_back() -> None:
    # What earlier versions wrote: the reader needs the dictionary, never the writer's tuning.
    codec = shipped_codec()
    params = zstandard.ZstdCompressionParameters.from_level(
        3, format=zstandard.FORMAT_ZSTD1_MAGICLESS, write_checksum=0, write_content_size=1,
        write_dict_id=0,
    )  # fmt: skip
    dictionary = zstandard.ZstdCompressionDict(codec.dictionary(1))
    earlier = zstandard.ZstdCompressor(dict_data=dictionary, compression_params=params)
    for occ in REALISTIC[:50]:
        event = strip_managed_fields(occ.raw)
        assert codec.decompress(b"\x01" + earlier.compress(event)) == event
        assert codec.decompress(codec.compress(event)) == event


def test_the_key_inside_the_value_goes_with_the_cut() -> None:
    raw = b'{"metadata":{"managedFields":[{"f":{"managedFields":{}}}],"name":"a"}}'
    assert strip_managed_fields(raw) == b'{"metadata":{"name":"a"}}'


def test_capitals_past_the_value_that_begin_no_key_leave_the_cut_alone() -> None:
    raw = (
        b'{"metadata":{"name":"a","managedFields":[{"m":"Fx"}],"uid":"u"},'
        b'"reason":"FailedMount","message":"F\\"managedFields\\": FFFF"}'
    )
    assert strip_managed_fields(raw) == (
        b'{"metadata":{"name":"a","uid":"u"},"reason":"FailedMount",'
        b'"message":"F\\"managedFields\\": FFFF"}'
    )


_KEY = b'"managedFields":'
_VALUE = b'[{"f":"F"}]'


def _cut_by_plain_search(raw: bytes) -> bytes:
    """The documented rule, with ``find`` for the whole key everywhere."""
    start = raw.find(_KEY)
    end = start + len(_KEY) + len(_VALUE)
    if start < 1 or not raw.startswith(_VALUE, start + len(_KEY)) or raw.find(_KEY, end) >= 0:
        return raw
    if raw[end : end + 1] == b"," and raw[start - 1 : start] in (b"{", b","):
        return raw[:start] + raw[end + 1 :]
    if raw[start - 1 : start] == b"," and raw[end : end + 1] == b"}":
        return raw[: start - 1] + raw[end:]
    return raw


_NOISE = st.lists(
    st.sampled_from([_KEY, _VALUE, b"F", b"FF", b'\\"F', b"x", b'"a":1', b",", b"{", b"}"]),
    max_size=8,
).map(b"".join)


@settings(max_examples=500)
@given(_NOISE, st.sampled_from([b"{", b",", b"x"]), st.sampled_from([b",", b"}", b"F"]), _NOISE)
def test_the_cut_is_the_one_a_plain_search_for_the_key_makes(
    before: bytes, opening: bytes, closing: bytes, after: bytes
) -> None:
    raw = before + opening + _KEY + _VALUE + closing + after
    assert strip_managed_fields(raw, msgspec.Raw(_VALUE)) == _cut_by_plain_search(raw)


def test_managed_fields_first_in_metadata_are_cut_too() -> None:
    raw = b'{"metadata":{"managedFields":[{"a":"}"}],"name":"a"},"reason":"R"}'
    assert strip_managed_fields(raw) == b'{"metadata":{"name":"a"},"reason":"R"}'


def test_query_json_is_the_export_document_of_what_was_stored(tmp_path: Path) -> None:
    # Events without managedFields (the factories'): byte for byte what the JSON Lines sink
    # writes for them, which is what schema 1 printed.
    plain = [make_occurrence(object_name=f"p{i}", count=1 + i % 3) for i in range(30)]
    write_store(tmp_path / "plain.db", plain)
    assert json_output(tmp_path / "plain.db") == encode_lines(in_query_order(plain))
    # With managedFields: the same, but for that one member of the embedded Event.
    write_store(tmp_path / "real.db", REALISTIC)
    expected = encode_lines(stripped(o) for o in in_query_order(REALISTIC))
    assert json_output(tmp_path / "real.db") == expected


def test_a_version_1_store_reads_the_same_before_and_after_its_migration(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    write_v1_store(path, REALISTIC)
    assert version(path) == 1
    with EventStore(path) as store:
        before = store.query()
    json_before = json_output(path)
    json_page_before = json_output(path, "-n", "shop", "--limit", "7")

    write_store(path, [])  # an exporter of this version starts on it
    assert version(path) == SCHEMA_VERSION == 4
    assert json_output(path) == json_before
    assert json_output(path, "-n", "shop", "--limit", "7") == json_page_before
    assert json_before == encode_lines(stripped(o) for o in in_query_order(REALISTIC))
    with EventStore(path) as store:
        after = store.query()
    shown = [
        "seq",
        "id",
        "uid",
        "count",
        "time",
        "filing_time",
        "namespace",
        "name",
        "involved_object",
        "type",
        "reason",
        "message",
        "source",
        "reporting_controller",
        "reporting_instance",
        "cluster",
        "resource_version",
        "first_timestamp",
        "last_timestamp",
        "inserted_at",
        "event_json",
    ]
    assert [[getattr(o, a) for a in shown] for o in after] == [
        [getattr(o, a) for a in shown] for o in before
    ]
    with closing(sqlite3.connect(path)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "occurrences_v2" not in tables and "occurrences" in tables


def test_the_migration_keeps_arrival_numbers_and_never_reuses_one(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    write_v1_store(path, REALISTIC[:50])
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DELETE FROM occurrences WHERE seq > 45")  # the newest arrivals expired
        conn.commit()
    with EventStore(path) as store:
        cursor = store.last_seq()
    assert cursor == 45
    write_store(path, REALISTIC[50:52])  # migrates, then stores two more
    with EventStore(path) as store:
        new = [o.seq for o in store.follow_batches(after=cursor, poll_interval=0.05).__next__()]
    assert new == [51, 52]


@pytest.mark.parametrize(
    ("flt", "index"),
    [
        (QueryFilter(limit=50), "occurrences_time"),
        (QueryFilter(namespace="shop", limit=50), "occurrences_namespace_time"),
        (QueryFilter(involved_kind="Pod", involved_name="web-0"), "occurrences_involved"),
        (QueryFilter(reason="BackOff", limit=50), "occurrences_reason_time"),
        (QueryFilter(since=REALISTIC[0].filing_time), "occurrences_time"),
        (QueryFilter(type="Warning", limit=50), "occurrences_time"),
        (QueryFilter(text="probe", limit=50), "occurrences_time"),
    ],
)
def test_each_filter_of_query_uses_its_index(tmp_path: Path, flt: QueryFilter, index: str) -> None:
    path = tmp_path / "kubevents.db"
    write_store(path, REALISTIC)
    with EventStore(path) as store:
        plan = " / ".join(store.explain(flt))
    assert f"USING INDEX {index} " in plan or plan.endswith(f"USING INDEX {index}"), plan
    if flt.limit is not None:
        # The newest rows come in index order: nothing is sorted to find them.
        assert "TEMP B-TREE FOR ORDER BY" not in plan.split("SCAN (subquery")[0], plan


_MIGRATE = textwrap.dedent(
    """
    import asyncio, logging, sys
    from pathlib import Path
    from kubevents.export.sinks.sqlite import SQLiteSink
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(SQLiteSink(Path(sys.argv[1]), retention_days=None).start())
    """
)


def test_a_kill_during_the_migration_leaves_the_version_1_store_whole(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    many = list(occurrences(20_000, seed=11))
    write_v1_store(path, many)
    child = subprocess.Popen(
        [sys.executable, "-c", _MIGRATE, str(path)], stderr=subprocess.PIPE, text=True
    )
    assert child.stderr is not None
    for line in child.stderr:
        if "migrating 20000 occurrences" in line:
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert version(path) == 1  # the kill came before the commit
    with EventStore(path) as store:
        assert store.count() == 20_000
    write_store(path, [])  # the next start migrates it all
    assert version(path) == SCHEMA_VERSION
    with EventStore(path) as store:
        assert sorted(o.id for o in store.query()) == sorted(o.id for o in many)


@pytest.mark.parametrize(
    "needle",
    ["probe", "PROBE", "<none>", 'say "hi"', "a\\b", "über", "STRASSE", "line\nbreak", "&"],
)
def test_grep_finds_in_the_stored_message_what_python_finds(tmp_path: Path, needle: str) -> None:
    messages = [
        "Readiness probe failed", "image <none> not found", 'say "hi" twice', r"path a\b",
        "Über alles", "Straße gesperrt", "line\nbreak", "salt & pepper", "nothing here",
    ]  # fmt: skip
    batch = [make_occurrence(object_name=f"p{i}", message=m) for i, m in enumerate(messages)]
    write_store(tmp_path / "k.db", batch)
    with EventStore(tmp_path / "k.db") as store:
        found = [o.id for o in store.query(QueryFilter(text=needle.casefold()))]
    expected = [o.id for o in batch if needle.casefold() in o.event.message.casefold()]
    assert found == expected and expected


@pytest.mark.parametrize(
    ("uid", "stored_as_bytes"),
    [
        ("9b1c0f5e-8a53-4c3e-9d0a-6f1f3b7f2e11", True),
        ("12345678-1234-1234-1234-123456789012", True),  # no letters at all
        ("9b1c0f5e-8a53-4c3e-9d0a-6f1f3b7f2e-1", False),
        ("9b1c0f5e-8a53-4c3e-9d0a-6f1f3b7f2e\u00e9", False),
        ("9B1C0F5E-8A53-4C3E-9D0A-6F1F3B7F2E11", False),  # not canonical: kept as text
        ("9b1c0f5e 8a53 4c3e 9d0a 6f1f3b7f2e11", False),
        ("9b1c0f5e-8a53-4c3e-9d0a-6f1f3b7f2e1 ", False),
        ("{9b1c0f5e-8a53-4c3e-9d0a-6f1f3b7f2e1}", False),
        ("not-a-uuid", False),
        ("", False),
    ],
)
def test_uids_are_stored_as_16_bytes_only_when_they_come_back_the_same(
    uid: str, stored_as_bytes: bool
) -> None:
    stored = stored_uid(uid)
    assert isinstance(stored, bytes) == stored_as_bytes
    assert uid_text(stored) == uid
