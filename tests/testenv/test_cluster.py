"""The local control plane behaves like a real cluster, as far as kubevents cares.

Deliberately stdlib-only (urllib/ssl, subprocess): the harness must not share code, and so
bugs, with the ``kubernetes`` client that kubevents builds on.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from kubevents_testenv import CERT_ADMIN_USER, KUBE_VERSION, LocalCluster

pytestmark = pytest.mark.cluster

Json = dict[str, Any]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
# Both Event APIs: they are separate REST storages (and separate watch caches) in the apiserver.
EVENT_PATHS = ["/api/v1/namespaces/default/events", "/apis/events.k8s.io/v1/events"]


def _call(
    cluster: LocalCluster,
    method: str,
    path: str,
    *,
    body: Json | None = None,
    token: str | None = None,
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        cluster.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {token or cluster.admin_token}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, context=cluster.ssl_context(), timeout=30) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _create_event(cluster: LocalCluster, name: str) -> Json:
    status, raw = _call(
        cluster,
        "POST",
        "/api/v1/namespaces/default/events",
        body={
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "testenv-pod"},
            "reason": "Testing",
            "message": f"event {name}",
            "type": "Normal",
            "source": {"component": "kubevents-tests"},
        },
    )
    assert status == 201, raw
    event: Json = json.loads(raw)
    return event


def _list_rv(cluster: LocalCluster) -> int:
    status, raw = _call(cluster, "GET", "/api/v1/namespaces/default/events?limit=1")
    assert status == 200, raw
    return int(json.loads(raw)["metadata"]["resourceVersion"])


def _watch(
    cluster: LocalCluster,
    path: str,
    *,
    params: dict[str, str],
    stop_when: Callable[[Json], bool] | None = None,
    on_open: Callable[[], object] | None = None,
) -> list[Json]:
    """Read a watch stream to its end (the server's timeoutSeconds) or until ``stop_when``.

    ``on_open`` runs once the response headers are in, i.e. once the server has registered
    the watch, so that what it does is delivered live rather than replayed.
    """
    query = urllib.parse.urlencode({"watch": "1", **params})
    request = urllib.request.Request(
        f"{cluster.url}{path}?{query}",
        headers={"Authorization": f"Bearer {cluster.admin_token}"},
    )
    # The read timeout only bounds a hung server; streams end by timeoutSeconds or stop_when.
    read_timeout = float(params.get("timeoutSeconds", "30")) + 15.0
    events: list[Json] = []
    with urllib.request.urlopen(
        request, context=cluster.ssl_context(), timeout=read_timeout
    ) as response:
        assert response.status == 200
        if on_open is not None:
            on_open()
        for line in response:
            event: Json = json.loads(line)
            events.append(event)
            if stop_when is not None and stop_when(event):
                break
    return events


def _kubectl(kubeconfig: str, *args: str) -> subprocess.CompletedProcess[str]:
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl is not on PATH"
    return subprocess.run(
        [kubectl, "--kubeconfig", kubeconfig, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cluster_is_ready(local_cluster: LocalCluster) -> None:
    assert _call(local_cluster, "GET", "/readyz") == (200, b"ok")
    status, raw = _call(local_cluster, "GET", "/version")
    assert status == 200
    assert json.loads(raw)["gitVersion"] == KUBE_VERSION
    assert local_cluster.start_seconds is not None
    assert local_cluster.start_seconds > 0
    kubeconfig = local_cluster.kubeconfig.read_text()
    assert f'certificate-authority: "{local_cluster.ca_file}"' in kubeconfig
    assert local_cluster.ca_file.is_absolute()


def test_kubectl_get_events(local_cluster: LocalCluster) -> None:
    name = f"kubectl-{uuid.uuid4().hex[:8]}"
    _create_event(local_cluster, name)
    result = _kubectl(str(local_cluster.kubeconfig), "get", "events", "-A", "-o", "name")
    assert result.returncode == 0, result.stderr
    assert f"event/{name}" in result.stdout.split()


def test_kubectl_authenticates_with_the_client_certificate_kubeconfig(
    local_cluster: LocalCluster,
) -> None:
    # kubectl (client-go), not kubevents, reads it: the harness checks itself.
    result = _kubectl(
        str(local_cluster.kubeconfig_cert),
        "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    user, groups = result.stdout.split(" ", 1)
    assert user == CERT_ADMIN_USER and "system:masters" in groups


@pytest.mark.parametrize(
    ("verb", "resource", "namespace", "allowed"),
    [
        ("create", "events", "default", True),
        ("watch", "events", "kube-system", True),
        ("patch", "events.events.k8s.io", "default", True),
        ("update", "events.events.k8s.io", "default", True),
        ("delete", "events", "default", False),
        ("list", "pods", "default", False),
        ("get", "configmaps", "default", False),
    ],
)
def test_limited_user_rbac(
    local_cluster: LocalCluster, verb: str, resource: str, namespace: str, allowed: bool
) -> None:
    result = _kubectl(
        str(local_cluster.kubeconfig_limited), "auth", "can-i", verb, resource, "-n", namespace
    )
    # can-i exits 0 for "yes" and 1 for "no"; anything else is an error.
    assert (result.returncode, result.stdout.strip()) == ((0, "yes") if allowed else (1, "no")), (
        result.stderr
    )


def test_compaction_makes_old_resource_versions_gone(local_cluster: LocalCluster) -> None:
    old = _create_event(local_cluster, f"old-{uuid.uuid4().hex[:8]}")
    old_rv = old["metadata"]["resourceVersion"]
    newest = [_create_event(local_cluster, f"new-{uuid.uuid4().hex[:8]}") for _ in range(3)]
    compacted = local_cluster.compact_etcd()
    assert compacted >= int(newest[-1]["metadata"]["resourceVersion"])

    # Events bypass the watch cache here, so the watch goes straight to etcd and fails.
    events = _watch(
        local_cluster, "/api/v1/events", params={"resourceVersion": old_rv, "timeoutSeconds": "10"}
    )
    assert [e["type"] for e in events] == ["ERROR"]
    assert events[0]["object"]["code"] == 410
    assert events[0]["object"]["reason"] == "Expired"

    status, _ = _call(
        local_cluster, "GET", f"/api/v1/events?resourceVersion={old_rv}&resourceVersionMatch=Exact"
    )
    assert status == 410


@pytest.mark.parametrize("fixture", ["local_cluster", "local_cluster_watch_cache"])
@pytest.mark.parametrize("path", EVENT_PATHS)
def test_initial_events_end_bookmark(
    request: pytest.FixtureRequest, fixture: str, path: str
) -> None:
    # Both servers send it: with WatchList (beta, on by default in 1.34) the etcd3 storage
    # emits the annotated bookmark too, not only the watch cache.
    cluster: LocalCluster = request.getfixturevalue(fixture)
    name = f"initial-{uuid.uuid4().hex[:8]}"
    created = _create_event(cluster, name)
    events = _watch(
        cluster,
        path,
        params={
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "allowWatchBookmarks": "true",
            "fieldSelector": f"metadata.name={name}",
            "timeoutSeconds": "30",
        },
        stop_when=lambda e: e["type"] == "BOOKMARK",
    )
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[0]["object"]["metadata"]["name"] == name
    bookmark = events[1]["object"]["metadata"]
    assert bookmark["annotations"] == {INITIAL_EVENTS_END: "true"}
    assert int(bookmark["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])


@pytest.mark.parametrize(
    ("fixture", "bookmarks_expected"),
    [("local_cluster", False), ("local_cluster_watch_cache", True)],
)
@pytest.mark.parametrize("path", EVENT_PATHS)
def test_bookmark_before_watch_timeout(
    request: pytest.FixtureRequest, fixture: str, bookmarks_expected: bool, path: str
) -> None:
    # The watch cache sends a bookmark ~2 s before a watch's deadline (and every minute), but
    # only at a resourceVersion newer than what the watch started from (including replayed
    # events), hence the event is created live, after the watch is registered. etcd-backed
    # watches never send these. This is what proves the --watch-cache-sizes override works.
    cluster: LocalCluster = request.getfixturevalue(fixture)
    name = f"timeout-{uuid.uuid4().hex[:8]}"
    created: list[Json] = []
    events = _watch(
        cluster,
        path,
        params={
            "resourceVersion": str(_list_rv(cluster)),
            "allowWatchBookmarks": "true",
            "fieldSelector": f"metadata.name={name}",
            "timeoutSeconds": "5",
        },
        on_open=lambda: created.append(_create_event(cluster, name)),
    )
    assert events[0]["type"] == "ADDED"
    assert events[0]["object"]["metadata"]["name"] == name
    bookmarks = [e for e in events[1:] if e["type"] == "BOOKMARK"]
    assert [e["type"] for e in events[1:]] == ["BOOKMARK"] * len(bookmarks)
    assert bool(bookmarks) is bookmarks_expected
    for bookmark in bookmarks:
        metadata = bookmark["object"]["metadata"]
        assert int(metadata["resourceVersion"]) >= int(created[0]["metadata"]["resourceVersion"])
        assert INITIAL_EVENTS_END not in (metadata.get("annotations") or {})


def test_start_stop_cleans_up() -> None:
    with LocalCluster() as cluster:
        workdir = cluster.workdir
        assert cluster.running
        assert _call(cluster, "GET", "/readyz") == (200, b"ok")
    assert not cluster.running
    assert not workdir.exists()
    cluster.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not started"):
        _ = cluster.url
