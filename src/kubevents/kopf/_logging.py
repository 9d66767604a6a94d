"""``LoggingPoster``: kopf's per-object log messages recorded as Events through the recorder.

kopf's ``K8sPoster`` turns each record of its object logger into one Event create; this
handler takes its place (``install(route_logging=True)`` switches kopf's off) with kopf's own
filter, type and message, so only the counting changes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kubevents.kopf._types import event_type_of_level
from kubevents.model import ObjectReference
from kubevents.record import EventRecorder

__all__ = ["LoggingPoster"]

REASON = "Logging"


class LoggingPoster(logging.Handler):
    def __init__(self, recorder: EventRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def filter(self, record: logging.LogRecord) -> bool:
        posting = getattr(getattr(record, "settings", None), "posting", None)
        if posting is None or not posting.enabled or record.levelno < posting.level:
            return False
        ref = getattr(record, "k8s_ref", None)
        return isinstance(ref, Mapping) and not getattr(record, "k8s_skip", False)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            ref: Mapping[str, str | None] = getattr(record, "k8s_ref")  # noqa: B009 - see filter
            reference = ObjectReference(
                kind=ref.get("kind") or "",
                api_version=ref.get("apiVersion") or "",
                name=ref.get("name") or "",
                namespace=ref.get("namespace") or "",
                uid=ref.get("uid") or "",
            )
            self.recorder.event(
                reference, event_type_of_level(record.levelno), REASON, self.format(record)
            )
        except Exception:
            self.handleError(record)
