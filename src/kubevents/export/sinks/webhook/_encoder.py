"""A webhook batch on the wire: the body (a JSON array or JSON Lines), its gzip form and the
``Idempotency-Key`` a retried batch repeats."""

from __future__ import annotations

import gzip as gzip_module
import hashlib
from collections.abc import Sequence
from typing import Literal

from kubevents.export._document import encode_array, encode_lines
from kubevents.export._occurrence import Occurrence

__all__ = ["BatchFormat", "encode_body", "gzip_body", "idempotency_key"]

BatchFormat = Literal["array", "jsonl"]


def encode_body(batch: Sequence[Occurrence], batch_format: BatchFormat) -> bytes:
    return encode_array(batch) if batch_format == "array" else encode_lines(batch)


def idempotency_key(batch: Sequence[Occurrence]) -> str:
    """SHA-256 (hex) of the batch's occurrence ids, one per line, in order."""
    digest = hashlib.sha256()
    for occ in batch:
        digest.update(occ.id.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def gzip_body(body: bytes) -> bytes:
    # mtime=0: a retried batch is byte-identical on the wire, which helps receivers that dedupe.
    return gzip_module.compress(body, 6, mtime=0)
