"""get_reference: every kind of object a Python controller holds."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from kubernetes.client import V1ObjectMeta, V1Pod

from kubevents.model import ObjectReference, get_reference


class KopfStyleBody(Mapping[str, Any]):
    """A read-only Mapping like kopf's Body."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


MANIFEST = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "uid": "d-1", "resourceVersion": "42"},
}
EXPECTED = ObjectReference(
    kind="Deployment",
    api_version="apps/v1",
    name="web",
    namespace="shop",
    uid="d-1",
    resource_version="42",
)


def test_object_reference_is_returned_as_is() -> None:
    ref = ObjectReference(kind="Pod", name="p", field_path="spec.containers[0]")
    assert get_reference(ref) is ref


def test_dict_manifest() -> None:
    assert get_reference(MANIFEST) == EXPECTED


def test_kopf_style_body() -> None:
    assert get_reference(KopfStyleBody(MANIFEST)) == EXPECTED


def test_kubernetes_client_model_with_type_meta() -> None:
    pod = V1Pod(
        api_version="v1",
        kind="Pod",
        metadata=V1ObjectMeta(name="p", namespace="ns", uid="u", resource_version="7"),
    )
    assert get_reference(pod) == ObjectReference(
        kind="Pod", api_version="v1", name="p", namespace="ns", uid="u", resource_version="7"
    )


def test_kubernetes_client_model_without_type_meta_uses_the_scheme() -> None:
    # List items come back without kind/apiVersion; client-go looks them up in its scheme.
    pod = V1Pod(metadata=V1ObjectMeta(name="p", namespace="ns"))
    ref = get_reference(pod)
    assert (ref.kind, ref.api_version, ref.name) == ("Pod", "v1", "p")


def test_cluster_scoped_object_has_no_namespace() -> None:
    ref = get_reference({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    assert ref.namespace == ""


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (None, "nil object"),
        ({"kind": "Pod", "metadata": {"name": "p"}}, "apiVersion missing"),
        ({"apiVersion": "v1", "metadata": {"name": "p"}}, "kind missing"),
        ({"metadata": {"name": "p"}}, "apiVersion and kind missing"),
        ({"apiVersion": "v1", "kind": "Pod"}, "no metadata"),
        (object(), "no metadata"),
    ],
)
def test_unreferenceable_objects_name_what_is_missing(obj: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        get_reference(obj)


class _Name(str):
    pass


@pytest.mark.parametrize(
    "manifest",
    [
        MANIFEST,
        {"api_version": "v1", "kind": "Pod", "metadata": {"name": "p", "resource_version": 7}},
        {
            "apiVersion": "",
            "api_version": "v1",
            "kind": _Name("Pod"),
            "metadata": {"name": _Name("p"), "namespace": None, "uid": 0, "resourceVersion": ""},
        },
        {"apiVersion": "v1", "kind": "Pod", "metadata": KopfStyleBody({"name": "p"})},
        {"apiVersion": "v1", "kind": "Pod", "metadata": V1ObjectMeta(name="p", uid="u")},
    ],
)
def test_plain_dict_fast_path_matches_the_mapping_path(manifest: dict[str, Any]) -> None:
    fast, generic = get_reference(manifest), get_reference(KopfStyleBody(manifest))
    assert fast == generic
    for value in msgspec.structs.astuple(fast):
        assert type(value) is str


def test_plain_object_fields_first_non_empty_spelling_wins() -> None:
    obj = SimpleNamespace(
        api_version="",
        apiVersion="v1",
        kind=_Name("Pod"),
        metadata=SimpleNamespace(name="p", uid=0, resourceVersion=None, resource_version=7),
    )
    ref = get_reference(obj)
    assert ref == ObjectReference(kind="Pod", api_version="v1", name="p", resource_version="7")
    assert all(type(value) is str for value in msgspec.structs.astuple(ref))
