"""A small kopf operator for ``test_kopf_operator.py``: run with ``kopf run --standalone``.

It handles ``widgets.kubevents.test``; the create handler fails ``WIDGET_FAILURES`` times (a
backend that is down), posting a Warning each time, then succeeds. kopf's object logger is
posted too (``settings.posting.loggers``). ``WIDGET_POSTING`` picks who posts: ``kopf`` (kopf's
own posting functions and poster) or ``kubevents`` (``kubevents.kopf``, logging routed).
"""

from __future__ import annotations

import os
from typing import Any

import kopf

import kubevents.kopf

POSTING = os.environ["WIDGET_POSTING"]
FAILURES = int(os.environ["WIDGET_FAILURES"])
post: Any = kubevents.kopf if POSTING == "kubevents" else kopf


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.loggers = True
    if POSTING == "kubevents":
        kubevents.kopf.install(settings, route_logging=True)


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if POSTING == "kubevents":
        await kubevents.kopf.cleanup()


@kopf.on.create("kubevents.test", "v1", "widgets", backoff=0.2)
def create(body: kopf.Body, retry: int, **_: Any) -> None:
    if retry < FAILURES:
        post.warn(body, reason="SyncFailed", message="backend unreachable")
        raise kopf.TemporaryError("backend unreachable", delay=0.2)
    post.info(body, reason="Synced", message="widget in sync")
