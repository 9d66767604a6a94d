"""``get_field_selector``: client-go ``tools/events``' ``GetFieldSelector``.

A field selector for the events about one object, for whichever Event API is being listed:
``regarding.*`` for events.k8s.io, ``involvedObject.*`` for core/v1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["FieldSelector", "GroupVersion", "GroupVersionKind", "get_field_selector"]


class GroupVersion(NamedTuple):
    """``schema.GroupVersion``; the core group is ``""``."""

    group: str
    version: str

    @classmethod
    def parse(cls, value: str) -> GroupVersion:
        """``schema.ParseGroupVersion``: ``"v1"``, ``"events.k8s.io/v1"``, or ``""`` (empty)."""
        if value in ("", "/"):
            return cls("", "")
        parts = value.split("/")
        if len(parts) == 1:
            return cls("", value)
        if len(parts) == 2:
            return cls(parts[0], parts[1])
        raise ValueError(f"unexpected GroupVersion string: {value}")

    def is_empty(self) -> bool:
        return not self.group and not self.version

    def __str__(self) -> str:
        # Go's String(): "version" for the core group, else "group/version".
        return f"{self.group}/{self.version}" if self.group else self.version


class GroupVersionKind(NamedTuple):
    """``schema.GroupVersionKind`` of the regarding object."""

    group: str
    version: str
    kind: str

    @classmethod
    def of(cls, api_version: str, kind: str) -> GroupVersionKind:
        """From an object's ``apiVersion`` and ``kind`` (``"apps/v1"``, ``"Deployment"``)."""
        group_version = GroupVersion.parse(api_version)
        return cls(group_version.group, group_version.version, kind)

    @property
    def group_version(self) -> GroupVersion:
        return GroupVersion(self.group, self.version)


EVENTS_V1 = GroupVersion("events.k8s.io", "v1")
EVENTS_V1BETA1 = GroupVersion("events.k8s.io", "v1beta1")
CORE_V1 = GroupVersion("", "v1")

_PREFIXES = {EVENTS_V1: "regarding", EVENTS_V1BETA1: "regarding", CORE_V1: "involvedObject"}


def _escape(value: str) -> str:
    # fields.EscapeValue: backslash first, then the separators.
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


@dataclass(frozen=True)
class FieldSelector:
    """An "all of these fields equal these values" selector (``fields.Set.AsSelector()``).

    ``str()`` is the ``fieldSelector`` query value, terms sorted by field (Go's order is map
    order; the server does not care).
    """

    fields: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return ",".join(f"{key}={_escape(self.fields[key])}" for key in sorted(self.fields))

    def matches(self, values: Mapping[str, str]) -> bool:
        """Go's ``Selector.Matches(fields.Set)``: every term equals (a missing field is "")."""
        return all(values.get(key, "") == value for key, value in self.fields.items())

    def empty(self) -> bool:
        return not self.fields


def get_field_selector(
    events_group_version: GroupVersion | str,
    regarding_group_version_kind: GroupVersionKind,
    regarding_name: str,
    regarding_uid: str,
) -> FieldSelector:
    """The selector for events about one object, for the Event API ``events_group_version``.

    Fields are added only when non-empty: ``<prefix>.name``, ``.kind``, ``.apiVersion`` (the
    group/version string) and ``.uid``. An API other than events.k8s.io/v1, v1beta1 or core v1
    raises ``ValueError("unknown version ...")``.
    """
    group_version = (
        GroupVersion.parse(events_group_version)
        if isinstance(events_group_version, str)
        else events_group_version
    )
    prefix = _PREFIXES.get(GroupVersion(*group_version))
    if prefix is None:
        raise ValueError(f"unknown version {group_version}")
    fields: dict[str, str] = {}
    if regarding_name:
        fields[f"{prefix}.name"] = regarding_name
    if regarding_group_version_kind.kind:
        fields[f"{prefix}.kind"] = regarding_group_version_kind.kind
    regarding_gv = regarding_group_version_kind.group_version
    if not regarding_gv.is_empty():
        fields[f"{prefix}.apiVersion"] = str(regarding_gv)
    if regarding_uid:
        fields[f"{prefix}.uid"] = regarding_uid
    return FieldSelector(fields)
