"""``get_reference``: build an ``ObjectReference`` for anything a controller holds.

Mirrors client-go's ``tools/reference.GetReference``: an ``ObjectReference`` is returned as-is;
otherwise kind/apiVersion come from the object itself, or, when a typed client object carries
none (list items do not), from its class: a small scheme of well-known Kubernetes types, or what
the popular clients keep on their classes (lightkube's ``_api_info``, kr8s' ``version`` and
``kind``). No client is imported: objects are read by duck typing, so none is a dependency.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubevents.model._meta import ObjectReference

__all__ = ["get_reference", "register_kind"]

# Python client class name -> (apiVersion, kind), like the Go scheme's type registry.
_SCHEME: dict[str, tuple[str, str]] = {}


def register_kind(class_name: str, api_version: str, kind: str) -> None:
    """Teach ``get_reference`` the group/version/kind of a typed class without TypeMeta."""
    _SCHEME[class_name] = (api_version, kind)


for _version, _kinds in {
    "v1": (
        "Binding ConfigMap Endpoints Event LimitRange Namespace Node PersistentVolume "
        "PersistentVolumeClaim Pod PodTemplate ReplicationController ResourceQuota Secret "
        "Service ServiceAccount"
    ),
    "apps/v1": "ControllerRevision DaemonSet Deployment ReplicaSet StatefulSet",
    "batch/v1": "CronJob Job",
    "autoscaling/v2": "HorizontalPodAutoscaler",
    "policy/v1": "PodDisruptionBudget",
    "networking.k8s.io/v1": "Ingress IngressClass NetworkPolicy",
    "coordination.k8s.io/v1": "Lease",
    "storage.k8s.io/v1": "CSIDriver CSINode StorageClass VolumeAttachment",
    "rbac.authorization.k8s.io/v1": "ClusterRole ClusterRoleBinding Role RoleBinding",
    "apiextensions.k8s.io/v1": "CustomResourceDefinition",
    "discovery.k8s.io/v1": "EndpointSlice",
    "events.k8s.io/v1": "Event",
}.items():
    _prefix = "V1" if _version.endswith("v1") else "V2"
    for _kind in _kinds.split():
        # events.k8s.io's Event is EventsV1Event in the Python client; core's is CoreV1Event.
        if _kind == "Event":
            register_kind(
                "EventsV1Event" if "events" in _version else "CoreV1Event", _version, _kind
            )
        else:
            register_kind(_prefix + _kind, _version, _kind)


def _text(value: Any) -> str:
    """A field's value as a string: ``str(value)``, or "" when it is falsy (None, "", 0).

    Where a field has two spellings, the first non-empty one wins (``a or b``).
    """
    if type(value) is str:
        return value
    return str(value) if value else ""


def _from_metadata(obj: Any, kind: str, api_version: str, metadata: Any) -> ObjectReference:
    if metadata is None:
        raise ValueError(
            f"cannot reference {type(obj).__name__}: it has no metadata "
            "(expected an ObjectReference, a manifest with 'metadata', or a Kubernetes object)"
        )
    if not (api_version and kind):
        missing = [n for n, value in (("apiVersion", api_version), ("kind", kind)) if not value]
        raise ValueError(
            f"cannot reference {type(obj).__name__}: {' and '.join(missing)} missing "
            "(set them on the object, or register_kind() its class)"
        )
    if type(metadata) is dict or isinstance(metadata, Mapping):
        get = metadata.get
        return ObjectReference(
            kind=kind,
            api_version=api_version,
            name=_text(get("name")),
            namespace=_text(get("namespace")),
            uid=_text(get("uid")),
            resource_version=_text(get("resourceVersion") or get("resource_version")),
        )
    return ObjectReference(
        kind=kind,
        api_version=api_version,
        name=_text(getattr(metadata, "name", None)),
        namespace=_text(getattr(metadata, "namespace", None)),
        uid=_text(getattr(metadata, "uid", None)),
        resource_version=_text(
            getattr(metadata, "resourceVersion", None)
            or getattr(metadata, "resource_version", None)
        ),
    )


def _class_group_version_kind(obj: Any) -> tuple[str, str]:
    """(apiVersion, kind) from ``obj``'s class, or ("", "") when its class does not say."""
    cls = type(obj)
    if cls.__name__ in _SCHEME:  # kubernetes and kubernetes_asyncio models
        return _SCHEME[cls.__name__]
    # lightkube: every resource class (generic ones included) has an ApiInfo.
    resource = getattr(getattr(cls, "_api_info", None), "resource", None)
    if resource is not None:
        group, version = _text(getattr(resource, "group", "")), _text(resource.version)
        return (f"{group}/{version}" if group else version), _text(resource.kind)
    # kr8s: APIObject subclasses declare "group/version" and kind as class attributes.
    declared = getattr(cls, "version", None), getattr(cls, "kind", None)
    if type(declared[0]) is str and type(declared[1]) is str:
        return declared[0], declared[1]
    return "", ""


def get_reference(obj: Any) -> ObjectReference:
    """Return an ``ObjectReference`` to ``obj``.

    Accepts an ``ObjectReference`` (returned unchanged, as client-go does), a manifest dict or
    any Mapping with ``metadata``/``apiVersion``/``kind`` (a kopf body, a lightkube generic
    resource), a ``kubernetes`` or ``kubernetes_asyncio`` model (e.g. ``V1Pod``), a lightkube
    resource, a kr8s object (its ``raw`` manifest), or any object with
    ``metadata``/``api_version``/``kind``. Raises ``ValueError`` naming what is missing.
    """
    # A plain dict (a manifest) first: the common case, and the cheapest test.
    if type(obj) is dict:
        return _from_manifest(obj, obj)
    if obj is None:
        raise ValueError("can't reference a nil object")
    if isinstance(obj, ObjectReference):
        return obj
    if isinstance(obj, Mapping):
        return _from_manifest(obj, obj)
    raw = getattr(obj, "raw", None)
    if isinstance(raw, Mapping):  # a kr8s object: its manifest is ``raw``
        return _from_manifest(obj, raw)
    metadata = getattr(obj, "metadata", None)
    api_version = _text(getattr(obj, "api_version", None) or getattr(obj, "apiVersion", None))
    kind = _text(getattr(obj, "kind", None))
    if not (api_version and kind):
        api_version, kind = _class_group_version_kind(obj)
    return _from_metadata(obj, kind, api_version, metadata)


def _from_manifest(obj: Any, manifest: Mapping[str, Any]) -> ObjectReference:
    get = manifest.get
    api_version = _text(get("apiVersion") or get("api_version"))
    kind = _text(get("kind"))
    if not (api_version and kind) and type(obj) is not dict:
        api_version, kind = _class_group_version_kind(obj)
    return _from_metadata(obj, kind, api_version, get("metadata"))
