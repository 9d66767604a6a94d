"""How the store keeps an Event: ``managedFields`` dropped, zstd with a shared dictionary.

A stored Event is one byte naming the dictionary (a row of the ``dictionaries`` table, which
every store keeps for as long as it exists), then a zstd frame compressed with it. Dictionaries
are shipped with kubevents, named, and never changed: a new one gets a new name and a new id in
each store, so a store written by any version stays readable. Events are small (~800 bytes) and
alike, so a dictionary is what makes compression pay: ~190 bytes instead of ~430 without one.

``managedFields`` is the record of which client last wrote which field: most of an Event's bytes,
and nothing a history of what happened needs. It is cut out of the server's bytes, which stay
otherwise byte for byte as the server sent them.
"""

from __future__ import annotations

import sqlite3
from importlib import resources

import msgspec
import zstandard

__all__ = [
    "DICTIONARY_NAME",
    "EventCodec",
    "StoredEventError",
    "shipped_codec",
    "strip_managed_fields",
]

# The dictionary new rows are written with; docs/sinks/sqlite.md says how it was made.
DICTIONARY_NAME = "kubevents-events-v1"
_SHIPPED = {DICTIONARY_NAME: "events-v1.zdict"}
# Level 1, the fast strategy: an Event is ~800 bytes matched mostly against the dictionary,
# and level 3's search finds 5 bytes less per row at 1.1-1.3x the time (levels 5 and up: 0-4%
# less at 2-10x); measured in docs/sinks/sqlite.md. The tables are named, not left to the
# library's defaults for the level, so that a new zstd cannot change the rows' size.
_LEVEL = 1
_TUNED = {"hash_log": 14, "chain_log": 13, "min_match": 7}
# An Event is at most what etcd accepts (1.5 MiB by default); a frame that claims more than
# this is damaged, and is refused instead of being inflated.
_MAX_EVENT_BYTES = 4 * 1024 * 1024
# Without the 4-byte magic number: every frame is one of ours, the column says so.
_FORMAT = zstandard.FORMAT_ZSTD1_MAGICLESS


class StoredEventError(ValueError):
    """A stored Event cannot be read back (an unknown dictionary, a damaged frame)."""


class _ManagedFields(msgspec.Struct):
    managedFields: msgspec.Raw = msgspec.Raw(b"")  # noqa: N815


class _Managed(msgspec.Struct):
    metadata: _ManagedFields = msgspec.field(default_factory=_ManagedFields)


_managed_decoder = msgspec.json.Decoder(_Managed)
_KEY = b'"managedFields":'
# The key's one capital letter, rare in an Event's JSON: ``find`` looks for one byte with
# ``memchr``, a fraction of the time it takes stepping through the bytes for the whole key.
_CAPITAL = b"F"
_CAPITAL_AT = _KEY.index(_CAPITAL)


def strip_managed_fields(raw: bytes, value: msgspec.Raw | None = None) -> bytes:
    """``raw`` without ``metadata.managedFields``; every other byte as it was.

    ``value`` is the field's exact bytes when the caller decoded ``raw`` already (the
    exporter's ``EventFields`` keep them); empty or None, they come from a decode here. They
    are cut where the key first appears, followed by exactly those bytes, right after ``{``
    or ``,``: there a quote begins a key, never text (a quote inside a JSON string is
    escaped). Another ``"managedFields":`` (an annotation key, say) makes the place
    ambiguous: before the cut, the first key is not followed by the value; after it, the
    second scan finds it. Inside the value it cannot be the real key (the value cannot hold
    itself), and it goes with the cut. Anything unexpected keeps ``raw`` whole: storing a
    few hundred bytes more is better than storing a damaged Event.
    """
    start = raw.find(_KEY)
    if start < 1:
        return raw  # none: nothing to decode
    if not value:
        try:
            value = _managed_decoder.decode(raw).metadata.managedFields
        except (msgspec.DecodeError, msgspec.ValidationError):
            return raw
    end = start + len(_KEY) + len(value)
    # Compared in place (``Raw`` is a buffer): no copy of either side. The second scan starts
    # past the value, a third of the Event's bytes that need no scanning, and looks for the
    # key only from a capital on: most Events have none past the value.
    if not value or not raw.startswith(value, start + len(_KEY)):
        return raw
    capital = raw.find(_CAPITAL, end + _CAPITAL_AT)
    if capital >= 0 and raw.find(_KEY, capital - _CAPITAL_AT) >= 0:
        return raw
    before, after = raw[start - 1 : start], raw[end : end + 1]
    if after == b"," and before in (b"{", b","):
        return raw[:start] + raw[end + 1 :]
    if before == b"," and after == b"}":
        return raw[: start - 1] + raw[end:]
    return raw


def _shipped(name: str) -> bytes:
    return resources.files(__package__).joinpath(_SHIPPED[name]).read_bytes()


class EventCodec:
    """Compresses Events with the current dictionary, and reads those of every known one.

    ``dictionaries`` maps a store's dictionary ids to their content (``load``); ``current``
    is the id new rows are written with (None: a reader, which never writes).
    """

    def __init__(self, dictionaries: dict[int, bytes], current: int | None = None) -> None:
        self._dicts = {
            i: zstandard.ZstdCompressionDict(content) for i, content in dictionaries.items()
        }
        self._decompressors: dict[int, zstandard.ZstdDecompressor] = {}
        self._current = current
        self._compressor: zstandard.ZstdCompressor | None = None
        if current is not None:
            params = zstandard.ZstdCompressionParameters.from_level(
                _LEVEL,
                format=_FORMAT,
                write_checksum=0,  # 4 bytes a row for what SQLite's own checks cover
                write_content_size=1,  # what a reader checks before it inflates
                write_dict_id=0,  # our own first byte says which
                **_TUNED,
            )
            self._compressor = zstandard.ZstdCompressor(
                dict_data=self._dicts[current], compression_params=params
            )
            self._header = bytes([current])

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> EventCodec:
        """A reader's codec: every dictionary the store holds."""
        rows = conn.execute("SELECT id, content FROM dictionaries").fetchall()
        return cls({int(i): bytes(content) for i, content in rows})

    @classmethod
    def for_writer(cls, conn: sqlite3.Connection) -> EventCodec:
        """The writer's codec; adds the current dictionary to the store if it lacks it.

        Runs inside the caller's write transaction.
        """
        content = _shipped(DICTIONARY_NAME)
        conn.execute(
            "INSERT INTO dictionaries (name, content) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
            (DICTIONARY_NAME, content),
        )
        (current,) = conn.execute(
            "SELECT id FROM dictionaries WHERE name = ?", (DICTIONARY_NAME,)
        ).fetchone()
        rows = conn.execute("SELECT id, content FROM dictionaries").fetchall()
        return cls({int(i): bytes(c) for i, c in rows}, int(current))

    def dictionary(self, dictionary_id: int) -> bytes:
        return self._dicts[dictionary_id].as_bytes()

    def compress(self, event_json: bytes) -> bytes:
        assert self._compressor is not None, "a reader's codec does not write"
        return self._header + self._compressor.compress(event_json)

    def decompress(self, blob: bytes) -> bytes:
        if not blob:
            raise StoredEventError("empty")
        decompressor = self._decompressors.get(blob[0])
        if decompressor is None:
            dictionary = self._dicts.get(blob[0])
            if dictionary is None:
                raise StoredEventError(f"unknown dictionary {blob[0]}")
            decompressor = self._decompressors[blob[0]] = zstandard.ZstdDecompressor(
                dict_data=dictionary, max_window_size=_MAX_EVENT_BYTES, format=_FORMAT
            )
        frame = blob[1:]
        try:
            size = zstandard.get_frame_parameters(frame, format=_FORMAT).content_size
            if not 0 <= size <= _MAX_EVENT_BYTES:
                raise StoredEventError(f"frame claims {size} bytes")
            return decompressor.decompress(frame)
        except zstandard.ZstdError as exc:
            raise StoredEventError(f"damaged: {exc}") from None


def shipped_codec() -> EventCodec:
    """The current dictionary as id 1, outside any store (benchmarks, tests)."""
    return EventCodec({1: _shipped(DICTIONARY_NAME)}, 1)
