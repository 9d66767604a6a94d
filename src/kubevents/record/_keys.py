"""The correlator's cache keys and the default aggregation functions (client-go events_cache.go).

Keys are separator-less concatenations, exactly as client-go builds them, so different field
splits can collide (component "ab" + host "c" == component "a" + host "bc") just as in Go.
"""

from __future__ import annotations

from collections.abc import Callable

from kubevents.model import Event

__all__ = [
    "AGGREGATE_MESSAGE_PREFIX",
    "EventAggregatorKeyFunc",
    "EventAggregatorMessageFunc",
    "EventSpamKeyFunc",
    "event_aggregator_by_reason",
    "event_aggregator_by_reason_message",
    "get_event_key",
    "get_spam_key",
]

AGGREGATE_MESSAGE_PREFIX = "(combined from similar events): "

EventSpamKeyFunc = Callable[[Event], str]
# Returns (aggregate key, local key): the group an event belongs to, and what makes it unique
# within that group.
EventAggregatorKeyFunc = Callable[[Event], tuple[str, str]]
EventAggregatorMessageFunc = Callable[[Event], str]


def get_event_key(event: Event) -> str:
    """Dedup key: source, object (FieldPath between Name and UID), type, reason, message."""
    obj = event.involved_object
    return "".join(
        (
            event.source.component,
            event.source.host,
            obj.kind,
            obj.namespace,
            obj.name,
            obj.field_path,
            obj.uid,
            obj.api_version,
            event.type,
            event.reason,
            event.message,
        )
    )


def get_spam_key(event: Event) -> str:
    """Spam key: source, object (no FieldPath) and type; reason and message are left out."""
    obj = event.involved_object
    return "".join(
        (
            event.source.component,
            event.source.host,
            obj.kind,
            obj.namespace,
            obj.name,
            obj.uid,
            obj.api_version,
            event.type,
        )
    )


def event_aggregator_by_reason(event: Event) -> tuple[str, str]:
    """Group events that differ only by message (or FieldPath); the message is the local key."""
    obj = event.involved_object
    aggregate_key = "".join(
        (
            event.source.component,
            event.source.host,
            obj.kind,
            obj.namespace,
            obj.name,
            obj.uid,
            obj.api_version,
            event.type,
            event.reason,
            event.reporting_controller,
            event.reporting_instance,
        )
    )
    return aggregate_key, event.message


def event_aggregator_by_reason_message(event: Event) -> str:
    """client-go's ``EventAggregatorByReasonMessageFunc``: the aggregate's message."""
    return AGGREGATE_MESSAGE_PREFIX + event.message
