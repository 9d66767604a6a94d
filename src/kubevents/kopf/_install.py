"""``install`` / ``cleanup``: the broadcaster behind ``kubevents.kopf``, made on kopf's loop.

One installation per process (kopf runs one operator per process, and its posting functions
are module-level too). It is a plain global, not a context variable, so that kopf's sync
handlers, which run in worker threads, see it as well.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from kubevents.kopf._logging import LoggingPoster
from kubevents.kopf._settings import PostingSettings, posting_of
from kubevents.model import EventSource
from kubevents.record import (
    DEFAULT_SHUTDOWN_TIMEOUT,
    CorrelatorOptions,
    EventBroadcaster,
    EventRecorder,
    EventSink,
    KubeEventSink,
    ShutdownReport,
)

__all__ = ["Installation", "cleanup", "current", "install"]

# kopf's object logger: what kopf's own K8sPoster listens to.
KOPF_OBJECT_LOGGER = "kopf.objects"


class Installation:
    """What ``install`` set up: the recorder, its broadcaster (None for a given recorder), and
    kopf's posting settings, read at each call as kopf reads them."""

    def __init__(
        self,
        recorder: EventRecorder,
        broadcaster: EventBroadcaster | None,
        posting: PostingSettings | None,
        poster: LoggingPoster | None,
    ) -> None:
        self.recorder = recorder
        self.broadcaster = broadcaster
        self.posting = posting
        self._poster = poster
        self._loggers_before = posting.loggers if posting is not None and poster else None

    def allows(self, level: int | None) -> bool:
        """Whether kopf's settings let a posting of ``level`` (None: any) through, by kopf's
        rule: posting enabled, and its level at most ``level``."""
        posting = self.posting
        if posting is None:
            return True
        return bool(posting.enabled) and (level is None or posting.level <= level)

    async def close(self, timeout: float | None) -> ShutdownReport | None:  # noqa: ASYNC109
        if self._poster is not None:
            logging.getLogger(KOPF_OBJECT_LOGGER).removeHandler(self._poster)
            if self.posting is not None and self._loggers_before is not None:
                self.posting.loggers = self._loggers_before
        if self.broadcaster is None:
            return None
        return await self.broadcaster.ashutdown(timeout)


_lock = threading.Lock()
_current: Installation | None = None


def install(
    settings: Any = None,
    *,
    component: str | None = None,
    instance: str | None = None,
    sink: EventSink | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    correlator_options: CorrelatorOptions | None = None,
    route_logging: bool = False,
    recorder: EventRecorder | None = None,
) -> Installation:
    """Set up ``kubevents.kopf`` for this process; call it from an ``@kopf.on.startup()``
    handler (an async one, so that the broadcaster runs on kopf's loop).

    ``settings``: kopf's ``OperatorSettings`` (the startup handler's ``settings``). Its
    ``posting.enabled`` and ``posting.level`` gate the calls as they gate kopf's; its
    ``posting.reporting_component`` / ``reporting_instance`` are the Events' source unless
    ``component`` / ``instance`` are given.

    ``sink``: where Events go; by default ``KubeEventSink.from_kubeconfig(kubeconfig,
    context)`` (the kubeconfig, or the in-cluster service account).

    ``route_logging``: record kopf's per-object log messages (what kopf posts when
    ``settings.posting.loggers`` is true) through the correlator too, and stop kopf from
    posting them itself. Needs ``settings``.

    ``recorder``: record into this recorder instead (a ``FakeRecorder`` in unit tests); no
    broadcaster is made.

    Raises ``RuntimeError`` when already installed (``cleanup`` first).
    """
    global _current
    posting = posting_of(settings) if settings is not None else None
    if route_logging and posting is None:
        raise ValueError("route_logging=True needs kopf's settings")
    with _lock:
        if _current is not None:
            raise RuntimeError("kubevents.kopf is already installed; call cleanup() first")
        broadcaster = None
        if recorder is None:
            source = EventSource(
                component=component or (posting.reporting_component if posting else "") or "kopf",
                host=instance
                if instance is not None
                else (posting.reporting_instance if posting else ""),
            )
            broadcaster = EventBroadcaster(correlator_options=correlator_options)
            broadcaster.start_recording_to_sink(
                sink if sink is not None else KubeEventSink.from_kubeconfig(kubeconfig, context)
            )
            recorder = broadcaster.new_recorder(source)
        poster = None
        if route_logging:
            assert posting is not None
            poster = LoggingPoster(recorder)
        installation = Installation(recorder, broadcaster, posting, poster)
        if poster is not None:
            assert posting is not None
            posting.loggers = False
            logging.getLogger(KOPF_OBJECT_LOGGER).addHandler(poster)
        _current = installation
        return installation


def current() -> Installation:
    """The installation; ``RuntimeError`` if ``install`` has not run."""
    installation = _current
    if installation is None:
        raise RuntimeError(
            "kubevents.kopf.install() has not run (call it in an @kopf.on.startup() handler)"
        )
    return installation


async def cleanup(timeout: float | None = DEFAULT_SHUTDOWN_TIMEOUT) -> ShutdownReport | None:  # noqa: ASYNC109
    """Undo ``install``: let queued Events reach the API (within ``timeout`` seconds), stop the
    broadcaster, give kopf its log posting back. Call it from ``@kopf.on.cleanup()``. Returns
    the broadcaster's ``ShutdownReport`` (None for a given recorder, or when not installed)."""
    global _current
    with _lock:
        installation, _current = _current, None
    if installation is None:
        return None
    return await installation.close(timeout)
