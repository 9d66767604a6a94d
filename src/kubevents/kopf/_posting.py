"""``event`` / ``info`` / ``warn`` / ``exception``: kopf's posting functions, same signatures.

kopf queues one Event create per call. These record through the installation's recorder, so
client-go's correlator decides: an identical repeat patches ``count`` on the first Event,
similar messages are aggregated, an object's flood is spam-filtered. ``backoffs`` is accepted
for compatibility and unused: the sink retries by client-go's policy.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

from kubevents.kopf._install import current
from kubevents.kopf._types import KOPF_TYPES, walk

__all__ = ["event", "exception", "info", "warn"]


def _record(objs: Any, level: int | None, type: str, reason: str, message: str) -> None:
    installation = current()
    if not installation.allows(level):
        return
    type = KOPF_TYPES.get(type, type)
    for obj in walk(objs):
        installation.recorder.event(obj, type, reason, message)


def event(
    objs: Any,
    *,
    type: str,
    reason: str,
    message: str = "",
    backoffs: float | Iterable[float] | None = None,
) -> None:
    """``kopf.event``: an Event of ``type`` for each object (kopf's "Error" is recorded as
    Warning: client-go's recorder knows only Normal and Warning)."""
    _record(objs, None, type, reason, message)


def info(
    objs: Any, *, reason: str, message: str = "", backoffs: float | Iterable[float] | None = None
) -> None:
    """``kopf.info``: a Normal Event for each object."""
    _record(objs, logging.INFO, "Normal", reason, message)


def warn(
    objs: Any, *, reason: str, message: str = "", backoffs: float | Iterable[float] | None = None
) -> None:
    """``kopf.warn``: a Warning Event for each object."""
    _record(objs, logging.WARNING, "Warning", reason, message)


def exception(
    objs: Any,
    *,
    reason: str = "",
    message: str = "",
    exc: BaseException | None = None,
    backoffs: float | Iterable[float] | None = None,
) -> None:
    """``kopf.exception``: reason and message from ``exc`` (default: the exception being
    handled) as kopf makes them; recorded as Warning where kopf posts "Error"."""
    if exc is None:
        exc = sys.exc_info()[1]
    reason = reason or type(exc).__name__
    message = f"{message} {exc}" if message and exc else f"{exc}" if exc else message
    _record(objs, logging.ERROR, "Error", reason, message)
