"""The checks configuration fields share: names, bounds, URLs, headers and files.

Each raises ``ConfigError`` naming the field; URLs in messages are redacted and values that may
be credentials are never repeated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from yarl import URL

from kubevents.export._configbase import ConfigError
from kubevents.export._secrets import ExpansionError, expand_env, redact_url

__all__ = [
    "CONTROL",
    "LIMITS",
    "MAX_TIMEOUT",
    "MIN_CHECKPOINT_INTERVAL",
    "MIN_SPOOL_BYTES",
    "SINK_NAME",
    "bounded",
    "check_headers",
    "check_text",
    "check_url",
    "expanded",
    "readable_file",
    "writable_target",
]

#: Upper bounds of sizes (docs/exporter.md lists them): far above any sensible value, and low
#: enough that a typo cannot ask for terabytes of queue or a LIST of a billion objects.
LIMITS = {
    "buffer.queue_size": 1_000_000,
    "buffer.max_batch_size": 100_000,
    "buffer.max_concurrency": 256,
    "page_size": 10_000,
    "backups": 1_000,
    "max_bulk_docs": 100_000,
    "max_bulk_bytes": 100 * 1024 * 1024,  # Elasticsearch's default http.max_content_length
    "shards": 1_024,  # the engines' own limit
    "replicas": 100,
    "item_retries": 100,
    "template_priority": 2**31 - 1,
    "retention_days": 36_500,
    "retry.permanent_attempts": 1_000,
}
#: A spool smaller than this could not hold a few batches of the largest Events (1.5 MiB each).
MIN_SPOOL_BYTES = 16 * 1024 * 1024
#: A checkpoint loop without a pause is a busy loop (every save is an fsync), not more safety.
MIN_CHECKPOINT_INTERVAL = 0.01
MAX_TIMEOUT = 3600.0

# Sink names are metric label values, thread names and parts of log lines.
SINK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_text(value: str | None, field: str, *, empty: bool = True) -> None:
    """A name or path: no control characters (they break logs, headers and paths)."""
    if value is None:
        return
    if not value and not empty:
        raise ConfigError(f"{field}: must not be empty")
    if CONTROL.search(value):
        raise ConfigError(f"{field}: contains a control character")


def bounded(value: float | None, field: str, low: float, key: str) -> None:
    if value is None:
        return
    high = LIMITS[key]
    if not value >= low:  # NaN fails too
        raise ConfigError(f"{field}: must be at least {low}, got {value!r}")
    if value > high:
        raise ConfigError(f"{field}: must be at most {high}, got {value!r}")


def check_url(value: str, field: str) -> URL:
    shown = redact_url(value)
    if not re.match(r"^https?://[^/\s]+", value):
        raise ConfigError(f"{field}: not an http(s) URL: {shown!r}")
    if CONTROL.search(value) or " " in value:
        raise ConfigError(f"{field}: the URL contains spaces or control characters")
    try:
        url = URL(value)
        _ = url.port
    except (TypeError, ValueError) as exc:
        reason = str(exc).replace(value, shown)
        raise ConfigError(f"{field}: invalid URL {shown!r}: {redact_url(reason)}") from None
    if not url.host:
        raise ConfigError(f"{field}: no host in {shown!r}")
    return url


def check_headers(headers: dict[str, str], field: str) -> None:
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ConfigError(f"{field}: {name!r} is not a valid header name")
        # Values are never echoed: they are often credentials.
        if re.search(r"[\x00-\x08\x0a-\x1f\x7f]", value):
            raise ConfigError(
                f"{field}.{name}: contains a line break or control character (an environment "
                "variable or file with a trailing newline?)"
            )


def readable_file(value: str | None, field: str) -> None:
    if value is None:
        return
    check_text(value, field, empty=False)
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(f"{field}: {value!r} is not a readable file")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{field}: {value!r} is not readable (permission denied)")


def writable_target(value: str, field: str, *, in_directory: bool = False) -> Path:
    """A file the exporter creates or appends to: its place must be able to hold a file.

    ``in_directory``: the exporter also creates files next to it (SQLite's -wal and -shm, the
    checkpoint's temporary file renamed over it), so the directory must be writable too.
    """
    check_text(value, field, empty=False)
    path = Path(value).expanduser()
    if path.is_dir():
        raise ConfigError(f"{field}: {value!r} is a directory, not a file")
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(
            f"{field}: {value!r} is under {str(ancestor)!r}, which is not a directory"
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{field}: {value!r} is not writable (permission denied)")
    if (in_directory or not path.exists()) and not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(f"{field}: cannot create files in {str(ancestor)!r} (permission denied)")
    return path


def expanded(value: str, field: str, environ: Mapping[str, str]) -> str:
    """``value`` with ``${NAME}`` references replaced from ``environ``; ``ConfigError`` if unset."""
    try:
        return expand_env(value, environ)
    except ExpansionError as exc:
        raise ConfigError(f"{field}: {exc}") from None
