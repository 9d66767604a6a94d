"""Object metadata and references shared by both Event kinds.

Field order is Go's declaration order, so encoded JSON matches the API server key for key.
Fields Go always serialises (struct-typed or without ``omitempty``) use a ``default_factory``:
msgspec then never omits them, while plain defaults are omitted when empty, like ``omitempty``.
"""

from __future__ import annotations

from operator import attrgetter
from typing import overload

from kubevents.model._codec import Wire
from kubevents.model._wire import FieldsV1, Int64, Time

__all__ = [
    "EventSource",
    "ManagedFieldsEntry",
    "MetadataField",
    "ObjectMeta",
    "ObjectReference",
    "OwnerReference",
]


class ObjectReference(Wire, gc=False):
    """core/v1 ``ObjectReference`` (also events.k8s.io/v1 ``regarding`` / ``related``)."""

    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    api_version: str = ""
    resource_version: str = ""
    field_path: str = ""


class EventSource(Wire, gc=False):
    """core/v1 ``EventSource``: the component (and host) that reported the event."""

    component: str = ""
    host: str = ""


class OwnerReference(Wire, gc=False):
    """metav1.OwnerReference, as an Event's metadata may carry it (kept, not interpreted)."""

    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ManagedFieldsEntry(Wire, gc=False):
    """metav1.ManagedFieldsEntry (server-side apply bookkeeping; kept, not interpreted)."""

    manager: str = ""
    operation: str = ""
    api_version: str = ""
    time: Time | None = None
    fields_type: str = ""
    # Kept as the server's raw bytes: structured-merge-diff's key order is its own.
    fields_v1: FieldsV1 | None = None
    subresource: str = ""


class ObjectMeta(Wire, gc=False):
    """``metav1.ObjectMeta`` (every field, so server objects round-trip unchanged)."""

    name: str = ""
    generate_name: str = ""
    namespace: str = ""
    self_link: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: Int64 = 0
    # omitempty,omitzero since apimachinery v0.34: left out when unset (Go >= 1.24).
    creation_timestamp: Time | None = None
    deletion_timestamp: Time | None = None
    deletion_grace_period_seconds: Int64 | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None
    managed_fields: list[ManagedFieldsEntry] | None = None


class MetadataField:
    """A read-only shortcut to a string field of an object's ``metadata`` (``event.name``)."""

    __slots__ = ("_get",)

    def __init__(self, field: str) -> None:
        self._get = attrgetter(f"metadata.{field}")

    @overload
    def __get__(self, obj: None, owner: type) -> MetadataField: ...
    @overload
    def __get__(self, obj: object, owner: type) -> str: ...
    def __get__(self, obj: object | None, owner: type) -> str | MetadataField:
        if obj is None:
            return self
        value: str = self._get(obj)
        return value
