"""``kubevents.kopf``'s drop-ins for kopf's posting functions, into the pytest plugin's
``event_recorder`` (a FakeRecorder), with kopf's real settings and bodies.

The end-to-end run of a real kopf operator against the real apiserver is
``test_kopf_operator.py``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, cast

import kopf
import pytest

import kubevents.kopf
from kubevents.record import FakeRecorder
from kubevents.testing import RecordedEvents

POD: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web-0", "namespace": "shop", "uid": "1b2c"}}  # fmt: skip


@pytest.fixture
async def settings(event_recorder: FakeRecorder) -> AsyncIterator[kopf.OperatorSettings]:
    settings = kopf.OperatorSettings()
    kubevents.kopf.install(settings, recorder=event_recorder)
    yield settings
    await kubevents.kopf.cleanup()


@pytest.mark.usefixtures("settings")
def test_each_function_records_kopfs_event(assert_event: RecordedEvents) -> None:
    body = kopf.Body(cast(kopf.RawBody, POD))
    kubevents.kopf.event(body, type="Normal", reason="Created", message="made it")
    kubevents.kopf.info(body, reason="Synced", message="in sync")
    kubevents.kopf.warn(body, reason="SyncFailed", message="backend unreachable")
    try:
        raise ConnectionError("refused")
    except ConnectionError:
        kubevents.kopf.exception(body, message="cannot sync:")
    kubevents.kopf.exception(body, reason="Crashed", exc=KeyError("spec"))
    assert [tuple(e) for e in assert_event.all] == [
        ("Normal", "Created", "made it"),
        ("Normal", "Synced", "in sync"),
        ("Warning", "SyncFailed", "backend unreachable"),
        # kopf posts these as "Error"; client-go's recorder records Normal and Warning only.
        ("Warning", "ConnectionError", "cannot sync: refused"),
        ("Warning", "Crashed", "'spec'"),
    ]


@pytest.mark.usefixtures("settings")
def test_object_forms_are_kopfs(assert_event: RecordedEvents) -> None:
    other = {**POD, "metadata": {**POD["metadata"], "name": "web-1"}}
    body = kopf.Body(cast(kopf.RawBody, POD))
    kubevents.kopf.warn([body, [other]], reason="Both", message="two objects")
    assert_event("Warning", "Both", "^two objects$", count=2)
    kubevents.kopf.event(POD, type="Error", reason="Old", message="kopf's Error type")
    assert_event("Warning", "Old", "Error type")


def test_kopfs_posting_settings_gate_the_calls(
    settings: kopf.OperatorSettings, assert_event: RecordedEvents
) -> None:
    settings.posting.level = logging.WARNING
    kubevents.kopf.info(POD, reason="Quiet", message="below the level")
    kubevents.kopf.warn(POD, reason="Loud", message="at the level")
    settings.posting.enabled = False
    kubevents.kopf.warn(POD, reason="Off", message="posting disabled")
    kubevents.kopf.event(POD, type="Normal", reason="Off", message="posting disabled")
    assert [e.reason for e in assert_event.all] == ["Loud"]


async def test_route_logging_takes_kopfs_object_log_postings(
    event_recorder: FakeRecorder, assert_event: RecordedEvents
) -> None:
    settings = kopf.OperatorSettings()
    settings.posting.loggers = True
    objects = logging.getLogger("kopf.objects")
    kubevents.kopf.install(settings, recorder=event_recorder, route_logging=True)
    try:
        assert settings.posting.loggers is False  # kopf's own poster stays quiet
        ref = {"apiVersion": "v1", "kind": "Pod", "name": "web-0", "namespace": "shop",
               "uid": "1b2c"}  # fmt: skip
        # kopf sets its loggers' level from its command line; this test runs without it.
        objects.setLevel(logging.DEBUG)
        extra = {"settings": settings, "k8s_ref": ref, "k8s_skip": False}
        objects.error("Handler 'sync' failed temporarily: boom", extra=extra)
        objects.info("Handler 'sync' succeeded.", extra=extra)
        objects.debug("below kopf's posting level", extra=extra)
        objects.error("not posted", extra={**extra, "k8s_skip": True})
        objects.error("no object", extra={"settings": settings})
    finally:
        objects.setLevel(logging.NOTSET)
        await kubevents.kopf.cleanup()
    assert settings.posting.loggers is True
    assert [tuple(e) for e in assert_event.all] == [
        ("Warning", "Logging", "Handler 'sync' failed temporarily: boom"),
        ("Normal", "Logging", "Handler 'sync' succeeded."),
    ]


async def test_calls_before_install_and_a_second_install_are_errors(
    event_recorder: FakeRecorder,
) -> None:
    with pytest.raises(RuntimeError, match=r"install\(\) has not run"):
        kubevents.kopf.warn(POD, reason="Early", message="too early")
    kubevents.kopf.install(recorder=event_recorder)
    try:
        with pytest.raises(RuntimeError, match="already installed"):
            kubevents.kopf.install(recorder=event_recorder)
    finally:
        assert await kubevents.kopf.cleanup() is None
    with pytest.raises(ValueError, match="needs kopf's settings"):
        kubevents.kopf.install(recorder=event_recorder, route_logging=True)
