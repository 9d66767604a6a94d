"""JSON codec shared by the model: Go-compatible bytes, dict round-trips, typed decoders."""

from __future__ import annotations

from typing import Any, Self, TypeVar

import msgspec

from kubevents.model._wire import builtins_hook, dec_hook, enc_hook

__all__ = ["Wire", "decoder", "go_json", "to_builtins"]

_T = TypeVar("_T")

# "deterministic" sorts map keys (as Go's encoding/json does) but keeps struct field order.
_ENCODER = msgspec.json.Encoder(enc_hook=enc_hook, order="deterministic")

# Go's encoding/json escapes these for HTML safety; they can only occur inside JSON strings,
# so replacing the raw bytes is exact.
_GO_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


def go_json(obj: Any) -> bytes:
    """Encode like the API server does (Go encoding/json, without the trailing newline)."""
    data = _ENCODER.encode(obj)
    for raw, escaped in _GO_ESCAPES:
        if raw in data:
            data = data.replace(raw, escaped)
    return data


def to_builtins(obj: Any) -> Any:
    return msgspec.to_builtins(obj, enc_hook=builtins_hook, order="deterministic")


def decoder(typ: type[_T]) -> msgspec.json.Decoder[_T]:
    """A fast JSON decoder for ``typ`` that understands the model's wire types."""
    return msgspec.json.Decoder(typ, dec_hook=dec_hook)


class Wire(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """Base of the API objects: conversions to and from the API's JSON."""

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Build from the API's JSON as a dict (wire names, RFC 3339 strings)."""
        return msgspec.convert(data, cls, dec_hook=dec_hook)

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        return msgspec.json.decode(data, type=cls, dec_hook=dec_hook)

    def to_dict(self) -> dict[str, Any]:
        """The API's JSON as a dict: wire names, times as strings, zero times as None."""
        out: dict[str, Any] = to_builtins(self)
        return out

    def to_json(self) -> bytes:
        """Compact JSON, byte-identical to what the API server writes for the same object."""
        return go_json(self)
