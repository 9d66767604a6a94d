"""``get_field_selector``: client-go's TestGetFieldSelector table, plus the string form."""

from __future__ import annotations

import pytest

from kubevents.events import FieldSelector, GroupVersion, GroupVersionKind, get_field_selector

EVENTS_V1BETA1 = GroupVersion("events.k8s.io", "v1beta1")
EVENTS_V1 = GroupVersion("events.k8s.io", "v1")
CORE_V1 = GroupVersion("", "v1")
DEPLOYMENT = GroupVersionKind("apps", "v1", "Deployment")
UID = "2c55cad7-ee4e-11e9-abe1-525400e7bc6b"
EMPTY = GroupVersionKind("", "", "")


def regarding(prefix: str) -> dict[str, str]:
    return {
        f"{prefix}.name": "test-deployment",
        f"{prefix}.kind": "Deployment",
        f"{prefix}.apiVersion": "apps/v1",
        f"{prefix}.uid": UID,
    }


@pytest.mark.parametrize(
    ("group_version", "gvk", "name", "uid", "expected"),
    [
        pytest.param(EVENTS_V1BETA1, EMPTY, "", "", {}, id="v1beta1 empty"),
        pytest.param(
            EVENTS_V1BETA1,
            DEPLOYMENT,
            "test-deployment",
            UID,
            regarding("regarding"),
            id="v1beta1 non-empty",
        ),
        pytest.param(EVENTS_V1, EMPTY, "", "", {}, id="v1 empty"),
        pytest.param(
            EVENTS_V1,
            DEPLOYMENT,
            "test-deployment",
            UID,
            regarding("regarding"),
            id="v1 non-empty",
        ),
        pytest.param(CORE_V1, EMPTY, "", "", {}, id="core v1 empty"),
        pytest.param(
            CORE_V1,
            DEPLOYMENT,
            "test-deployment",
            UID,
            regarding("involvedObject"),
            id="core v1 non-empty",
        ),
    ],
)
def test_get_field_selector(
    group_version: GroupVersion,
    gvk: GroupVersionKind,
    name: str,
    uid: str,
    expected: dict[str, str],
) -> None:
    selector = get_field_selector(group_version, gvk, name, uid)
    assert dict(selector.fields) == expected
    assert selector.matches(expected)
    # The string form of the event API works as well.
    assert get_field_selector(str(group_version), gvk, name, uid) == selector


def test_unknown_group_version() -> None:
    with pytest.raises(ValueError, match="unknown version v1alpha1"):
        get_field_selector(GroupVersion("", "v1alpha1"), DEPLOYMENT, "test-deployment", UID)
    with pytest.raises(ValueError, match="unknown version apps/v1"):
        get_field_selector("apps/v1", DEPLOYMENT, "x", "")
    with pytest.raises(ValueError, match="unexpected GroupVersion"):
        get_field_selector("a/b/c", DEPLOYMENT, "x", "")


def test_string_form_is_the_query_value() -> None:
    selector = get_field_selector("v1", DEPLOYMENT, "test-deployment", UID)
    assert str(selector) == (
        "involvedObject.apiVersion=apps/v1,involvedObject.kind=Deployment,"
        f"involvedObject.name=test-deployment,involvedObject.uid={UID}"
    )
    assert str(get_field_selector("events.k8s.io/v1", EMPTY, "", "")) == ""
    # Separators in values are escaped as fields.EscapeValue does.
    odd = get_field_selector("events.k8s.io/v1", EMPTY, "a,b=c\\d", "")
    assert str(odd) == "regarding.name=a\\,b\\=c\\\\d"


def test_partial_group_version_kind() -> None:
    # The core group prints as the bare version; a kind alone adds no apiVersion.
    core_pod = get_field_selector("events.k8s.io/v1", GroupVersionKind.of("v1", "Pod"), "p", "")
    assert dict(core_pod.fields) == {
        "regarding.name": "p",
        "regarding.kind": "Pod",
        "regarding.apiVersion": "v1",
    }
    kind_only = get_field_selector("events.k8s.io/v1", GroupVersionKind("", "", "Pod"), "", "")
    assert dict(kind_only.fields) == {"regarding.kind": "Pod"}


def test_matches_is_every_term() -> None:
    selector = FieldSelector({"regarding.name": "p", "regarding.kind": "Pod"})
    assert selector.matches({"regarding.name": "p", "regarding.kind": "Pod", "other": "x"})
    assert not selector.matches({"regarding.name": "p"})
    assert FieldSelector().matches({})
    assert FieldSelector().empty()
