"""In-cluster configuration: service host/port, CA, namespace, and a token that rotates.

The files are real files laid out as the kubelet projects them (``..data`` symlink swapped
atomically on rotation); the real apiserver side is in tests/export/test_incluster_cluster.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubevents.kube import (
    ENV_SERVICE_ACCOUNT_DIR,
    ClusterConfig,
    ConfigError,
    TokenFile,
    in_cluster_namespace,
    load_config,
)


def project(directory: Path, token: str, *, generation: int) -> None:
    """Write the files the way the kubelet does: a new timestamped dir, then swap ``..data``."""
    data = directory / f"..{generation}"
    data.mkdir()
    (data / "token").write_text(token)
    (data / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nnot checked here\n")
    (data / "namespace").write_text("kubevents")
    link = directory / "..data_tmp"
    link.symlink_to(data.name)
    os.replace(link, directory / "..data")
    for name in ("token", "ca.crt", "namespace"):
        if not (directory / name).is_symlink():
            (directory / name).symlink_to(f"..data/{name}")


@pytest.fixture
def pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    project(directory, "token-1", generation=1)
    monkeypatch.setenv(ENV_SERVICE_ACCOUNT_DIR, str(directory))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.kube/config
    return directory


async def bearer(cluster: ClusterConfig) -> str | None:
    return (await cluster.credentials.current()).authorization


async def test_a_pod_is_detected_and_its_token_ca_and_namespace_are_used(pod: Path) -> None:
    cluster = await load_config()
    assert cluster.source == "in-cluster"
    assert cluster.host == "https://10.0.0.1:443"
    assert cluster.ca_file == pod / "ca.crt"
    assert await bearer(cluster) == "Bearer token-1"
    assert in_cluster_namespace() == "kubevents"


async def test_a_rotated_token_is_used_by_the_next_request(pod: Path) -> None:
    cluster = await load_config(in_cluster=True)
    assert await bearer(cluster) == "Bearer token-1"
    project(pod, "token-2", generation=2)
    assert await bearer(cluster) == "Bearer token-2"


async def test_an_ipv6_service_host_is_bracketed(
    pod: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    assert (await load_config(in_cluster=True)).host == "https://[fd00::1]:443"


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("no-host", "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set"),
        ("no-token", "cannot read the service-account token"),
        ("empty-token", "is empty"),
        ("no-ca", "ca.crt"),
    ],
)
async def test_an_incomplete_pod_environment_is_named(
    pod: Path, monkeypatch: pytest.MonkeyPatch, breakage: str, message: str
) -> None:
    if breakage == "no-host":
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    elif breakage == "no-token":
        (pod / "token").unlink()
    elif breakage == "empty-token":
        (pod / "..1" / "token").write_text("")
    else:
        (pod / "ca.crt").unlink()
    with pytest.raises(ConfigError, match=message):
        await load_config(in_cluster=True)


def test_the_token_is_read_once_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("a\n")
    clock = [0.0]
    token = TokenFile(path, max_age=60.0, monotonic=lambda: clock[0])
    for _ in range(100):
        assert token.token() == "a"
    assert token.reads == 1
    tmp = tmp_path / "token.new"
    tmp.write_text("b\n")
    os.replace(tmp, path)  # a new inode, as any atomic writer produces
    assert token.token() == "b"
    assert token.reads == 2


def test_the_token_is_re_read_after_a_minute_even_if_the_file_looks_unchanged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "token"
    path.write_text("a")
    stat = path.stat()
    clock = [0.0]
    token = TokenFile(path, max_age=60.0, monotonic=lambda: clock[0])
    path.write_text("b")  # same size; restore the mtime so the stat cannot tell
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert token.token() == "a"
    clock[0] = 61.0
    assert token.token() == "b"


def test_a_vanished_token_file_keeps_the_last_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("a")
    token = TokenFile(path)
    path.unlink()  # between the kubelet's unlink and rename, or a broken mount
    assert token.token() == "a"
