"""What the HTTP sinks (webhook, Elasticsearch/OpenSearch) share about HTTP itself."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["PERMANENT_STATUSES", "parse_retry_after"]

#: Answers that say the configuration is wrong (credentials refused, no such index or route,
#: a method or proxy the destination does not accept): retrying cannot help until someone
#: changes something, so the pipeline tries a few times only, then dead-letters the batch.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 407})


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    # isdigit() alone also accepts "²" and other digits float() refuses.
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):  # an offset of 2**31 seconds overflows
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
