"""Logging for the command line: readable console lines or one JSON object per line."""

from __future__ import annotations

import logging
import sys
import time

import msgspec

from kubevents.cli._table import printable

__all__ = ["setup_logging"]

_ENCODER = msgspec.json.Encoder()
# LogRecord attributes that are not user-supplied `extra=` fields.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry).decode()


class ConsoleFormatter(logging.Formatter):
    """One readable line per record. Messages can quote Event text or a receiver's answer, so
    control characters in them are escaped: a log line cannot drive the terminal or forge
    another line. (Tracebacks keep their line breaks.)"""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        message = record.message
        record.message = printable(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message


def setup_logging(level: str = "info", fmt: str = "console") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(
            ConsoleFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The client library is chatty at INFO about retries we already report.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
