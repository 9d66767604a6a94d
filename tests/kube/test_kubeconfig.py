"""Kubeconfig loading: contexts, relative paths, data fields, credentials, and every error.

Files are real files in tmp_path; certificates are real (openssl). Every error is a
``ConfigError`` that names the field and never quotes a secret.
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from kubevents.kube import ConfigError, load_config
from kubevents.kube._credentials import TokenFileCredentials
from kubevents.kube._kubeconfigfile import read_kubeconfig
from kubevents_testenv import Pki

from .kubeconfig_support import SECRET, kubeconfig, write


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


@pytest.fixture(autouse=True)
def no_ambient_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBEVENTS_SERVICE_ACCOUNT_DIR", str(tmp_path / "no-pod"))


async def authorization(path: Path, context: str | None = None) -> str | None:
    cluster = await load_config(path, context)
    return (await cluster.credentials.current()).authorization


async def test_the_current_context_or_the_given_one_is_used(tmp_path: Path) -> None:
    doc = kubeconfig()
    doc["clusters"].append({"name": "c2", "cluster": {"server": "https://other:443/"}})
    doc["users"].append({"name": "u2", "user": {"token": "other-token"}})
    doc["contexts"].append({"name": "ctx2", "context": {"cluster": "c2", "user": "u2"}})
    path = write(tmp_path / "config", doc)

    current = await load_config(path)
    assert (current.host, current.namespace) == ("https://10.1.2.3:6443", "ns")
    assert current.source == f"kubeconfig:{path}"
    assert (await current.credentials.current()).authorization == f"Bearer {SECRET}"

    other = await load_config(path, "ctx2")
    assert (other.host, other.namespace) == ("https://other:443", None)
    assert other.source == f"kubeconfig:{path}#ctx2"
    assert await authorization(path, "ctx2") == "Bearer other-token"


async def test_kubeconfig_env_uses_the_first_existing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "b" / "config", kubeconfig())
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "missing"), str(path)]))
    assert (await load_config()).source == f"kubeconfig:{path}"


async def test_relative_paths_are_relative_to_the_kubeconfig_file(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "kube"
    (folder / "certs").mkdir(parents=True)
    for name, source in (
        ("ca.pem", pki.ca),
        ("me.pem", pki.client_cert),
        ("me.key", pki.client_key),
    ):
        (folder / "certs" / name).write_bytes(source.read_bytes())
    (folder / "token").write_text("file-token\n")
    path = write(
        folder / "config",
        kubeconfig(
            cluster={"server": "https://k:6443", "certificate-authority": "certs/ca.pem"},
            user={
                "tokenFile": "token",
                "client-certificate": "certs/me.pem",
                "client-key": "certs/me.key",
            },
        ),
    )
    monkeypatch.chdir(tmp_path)  # anywhere but the kubeconfig's folder
    cluster = await load_config(path)
    assert cluster.ca_file == folder / "certs" / "ca.pem"
    assert (cluster.cert_file, cluster.key_file) == (
        folder / "certs/me.pem",
        folder / "certs/me.key",
    )
    assert (await cluster.credentials.current()).authorization == "Bearer file-token"
    cluster.ssl_context()  # the files load


async def test_data_fields_are_decoded(tmp_path: Path, pki: Pki) -> None:
    ca = pki.ca.read_text()
    path = write(
        tmp_path / "config",
        kubeconfig(
            cluster={"server": "https://k:6443", "certificate-authority-data": b64(ca)},
            user={
                "client-certificate-data": b64(pki.client_cert.read_bytes()),
                "client-key-data": b64(pki.client_key.read_bytes()),
            },
        ),
    )
    cluster = await load_config(path)
    assert cluster.ca_data == ca and cluster.ca_file is None
    auth = await cluster.credentials.current()
    assert auth.authorization is None and auth.cert is not None
    assert auth.cert.cert_pem == pki.client_cert.read_bytes()
    assert auth.cert.key_pem == pki.client_key.read_bytes()
    assert "BEGIN" not in repr(auth) and "BEGIN" not in repr(cluster)


async def test_tls_and_proxy_settings_are_carried(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        kubeconfig(
            cluster={
                "server": "k.example:6443",
                "insecure-skip-tls-verify": True,
                "tls-server-name": "kubernetes.default",
                "proxy-url": "http://proxy:3128",
            }
        ),
    )
    cluster = await load_config(path)
    assert cluster.host == "https://k.example:6443"  # no scheme means https, as client-go
    assert cluster.insecure_skip_tls_verify
    assert cluster.tls_server_name == "kubernetes.default"
    assert cluster.proxy_url == "http://proxy:3128"
    assert not cluster.ssl_context().check_hostname


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"username": "ann", "password": "pä ss"}, "Basic " + b64("ann:pä ss")),
        ({"auth-provider": {"name": "oidc", "config": {"id-token": "idt"}}}, "Bearer idt"),
        ({}, None),
    ],
    ids=["basic", "oidc-id-token", "anonymous"],
)
async def test_other_credentials(
    tmp_path: Path, user: dict[str, Any], expected: str | None
) -> None:
    assert await authorization(write(tmp_path / "config", kubeconfig(user=user))) == expected


async def test_a_token_file_is_re_read_when_it_changes(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one")
    cluster = await load_config(
        write(tmp_path / "config", kubeconfig(user={"tokenFile": str(token)}))
    )
    assert isinstance(cluster.credentials, TokenFileCredentials)
    first = await cluster.credentials.current()
    assert first.authorization == "Bearer one"
    assert await cluster.credentials.current() is first  # unchanged file: the same credential
    replacement = tmp_path / "token.new"
    replacement.write_text("two")
    os.replace(replacement, token)
    assert (await cluster.credentials.current()).authorization == "Bearer two"


async def test_after_a_401_a_token_file_is_read_even_if_it_looks_unchanged(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("aaa")
    stat = token.stat()
    cluster = await load_config(
        write(tmp_path / "config", kubeconfig(user={"tokenFile": str(token)}))
    )
    used = await cluster.credentials.current()
    assert not await cluster.credentials.unauthorized(used)  # the same token: no retry
    token.write_text("bbb")
    os.utime(token, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert await cluster.credentials.unauthorized(used)
    assert (await cluster.credentials.current()).authorization == "Bearer bbb"


def _bad(**parts: Any) -> dict[str, Any]:
    return kubeconfig(**parts)


_CA_B64_GARBAGE = "!!" + SECRET
_NOT_A_CERT = b64("-----BEGIN CERTIFICATE-----\n" + SECRET + "\n-----END CERTIFICATE-----\n")

BAD_CONFIGS: dict[str, tuple[dict[str, Any] | str, str]] = {
    "no current-context": (_bad(current=None), "no current-context"),
    "unknown current-context": (_bad(current="nope"), "context 'nope' not found"),
    "context without cluster": (
        _bad(context={"user": "u"}),
        r"contexts\[ctx\]\.cluster: not specified",
    ),
    "missing cluster": (
        _bad(context={"cluster": "gone", "user": "u"}),
        "cluster 'gone' of context 'ctx' not found",
    ),
    "missing user": (
        _bad(context={"cluster": "c", "user": "gone"}),
        "user 'gone' of context 'ctx' not found",
    ),
    "no server": (_bad(cluster={"server": ""}), r"clusters\[c\]\.server: no server"),
    "bad server": (_bad(cluster={"server": "ftp://x"}), "not an http"),
    "undecodable CA data": (
        _bad(cluster={"server": "https://k", "certificate-authority-data": _CA_B64_GARBAGE}),
        r"clusters\[c\]\.certificate-authority-data: not valid base64",
    ),
    "CA data that is no certificate": (
        _bad(cluster={"server": "https://k", "certificate-authority-data": _NOT_A_CERT}),
        "certificate-authority-data: cannot load the CA",
    ),
    "unreadable CA file": (
        _bad(cluster={"server": "https://k", "certificate-authority": "nope/ca.pem"}),
        r"clusters\[c\]\.certificate-authority: cannot read .*nope/ca.pem",
    ),
    "undecodable key data": (
        _bad(user={"client-certificate-data": b64("x"), "client-key-data": "%%" + SECRET}),
        r"users\[u\]\.client-key-data: not valid base64",
    ),
    "key data that is no key": (
        _bad(user={"client-certificate-data": _NOT_A_CERT, "client-key-data": _NOT_A_CERT}),
        "client-certificate-data / client-key-data: cannot load",
    ),
    "certificate without key": (
        _bad(user={"client-certificate-data": b64("x"), "token": SECRET}),
        "client-key-data or client-key must be specified",
    ),
    "missing token file": (_bad(user={"tokenFile": "no-such-token"}), "tokenFile.*no-such-token"),
    "token and basic auth": (
        _bad(user={"token": SECRET, "username": "u", "password": SECRET}),
        "more than one authentication method",
    ),
    "exec with auth-provider": (
        _bad(user={"exec": {"command": "x"}, "auth-provider": {"name": "oidc"}}),
        "auth-provider cannot be combined with an exec plugin",
    ),
    "gcp provider": (
        _bad(user={"auth-provider": {"name": "gcp", "config": {"access-token": SECRET}}}),
        "'gcp' was removed .* gke-gcloud-auth-plugin",
    ),
    "azure provider": (
        _bad(user={"auth-provider": {"name": "azure", "config": {"access-token": SECRET}}}),
        "'azure' was removed .* kubelogin",
    ),
    "other provider": (
        _bad(user={"auth-provider": {"name": "openstack"}}),
        "'openstack' is not supported",
    ),
    "oidc without id-token": (
        _bad(user={"auth-provider": {"name": "oidc", "config": {"refresh-token": SECRET}}}),
        "oidc has no id-token.*kubelogin",
    ),
    "exec without apiVersion": (
        _bad(user={"exec": {"command": "x"}}),
        r"users\[u\]\.exec\.apiVersion: '' is not one of",
    ),
    "exec v1alpha1": (
        _bad(
            user={"exec": {"command": "x", "apiVersion": "client.authentication.k8s.io/v1alpha1"}}
        ),
        "v1alpha1' is not one of",
    ),
    "exec always interactive": (
        _bad(
            user={
                "exec": {
                    "command": "x",
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "interactiveMode": "Always",
                }
            }
        ),
        "interactiveMode: Always needs a terminal",
    ),
    "socks proxy": (
        _bad(cluster={"server": "https://k", "proxy-url": "socks5://p:1080"}),
        r"proxy-url: scheme 'socks5' .*not supported",
    ),
    "a field of the wrong type": (
        _bad(user={"token": [SECRET]}),
        r"Expected `str`, got `array` - at `\$\.users\[0\]\.user\.token`",
    ),
    "invalid YAML": (f"users: [{{name: u, user: {{token: {SECRET}}}\n", "is not valid YAML"),
    "not a mapping": ("- just\n- a list\n", "the document is not a mapping"),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
async def test_a_bad_kubeconfig_is_a_config_error_naming_the_field_not_the_secret(
    tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    doc, message = BAD_CONFIGS[case]
    path = tmp_path / "config"
    if isinstance(doc, str):
        path.write_text(doc)
    else:
        write(path, doc)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError, match=message) as info:
        await load_config(path)
    assert SECRET not in str(info.value)
    assert SECRET not in caplog.text
    assert info.value.__cause__ is None  # no traceback of the parser behind it


async def test_an_unreadable_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.mkdir()  # a directory where the file should be
    with pytest.raises(ConfigError, match="does not exist"):
        await load_config(path)
    # Past that check, a read that fails (permissions, a vanished file) is named too.
    with pytest.raises(ConfigError, match=r"cannot read kubeconfig .*: Is a directory"):
        read_kubeconfig(path)


async def test_an_explicit_url_token_and_ca(tmp_path: Path, pki: Pki) -> None:
    cluster = await load_config(url="https://k:6443/", token="t", ca_file=pki.ca)
    assert (cluster.host, cluster.source, cluster.ca_file) == ("https://k:6443", "explicit", pki.ca)
    assert (await cluster.credentials.current()).authorization == "Bearer t"
    anonymous = await load_config(url="https://k:6443", insecure_skip_tls_verify=True)
    assert (await anonymous.credentials.current()).authorization is None
    assert anonymous.insecure_skip_tls_verify
    (tmp_path / "bad.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="certificate-authority: cannot load the CA"):
        await load_config(url="https://k:6443", ca_file=tmp_path / "bad.pem")
