"""Exec credential plugins: a real executable, what it is given, its answers, and its failures."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kubevents.kube import ConfigError, load_config
from kubevents.kube._exec import ExecCredentials, ExecSpec

from .kubeconfig_support import SECRET, Plugin, credential, exec_user, kubeconfig, write

V1BETA1 = "client.authentication.k8s.io/v1beta1"


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Plugin:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return Plugin(tmp_path / "plugin")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_the_plugin_gets_args_env_and_exec_info_and_its_token_is_used(
    tmp_path: Path, plugin: Plugin
) -> None:
    ca = b"-----BEGIN CERTIFICATE-----\nnot parsed by kubevents here\n-----END CERTIFICATE-----\n"
    (tmp_path / "ca.pem").write_bytes(ca)
    user = exec_user(
        str(plugin.path),
        args=["token", "--cluster", "prod"],
        env=[{"name": "PLUGIN_REGION", "value": "eu-west-1"}],
        provideClusterInfo=True,
    )
    cluster = {
        "server": "https://k:6443",
        "tls-server-name": "kubernetes",
        "certificate-authority": "ca.pem",
        "extensions": [{"name": "client.authentication.k8s.io/exec", "extension": {"a": 1}}],
    }
    path = write(tmp_path / "config", kubeconfig(user=user, cluster=cluster))
    with pytest.raises(ConfigError, match="certificate-authority: cannot load the CA"):
        await load_config(path)  # the plugin ran; the CA is checked after it
    (run,) = plugin.runs
    assert run["argv"] == ["token", "--cluster", "prod"]
    assert run["env"] == {"PLUGIN_REGION": "eu-west-1"}
    assert run["info"] == {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "spec": {
            "interactive": False,
            "cluster": {
                "server": "https://k:6443",
                "tls-server-name": "kubernetes",
                "certificate-authority-data": base64.b64encode(ca).decode(),
                "config": {"a": 1},
            },
        },
    }


async def test_without_provide_cluster_info_the_spec_has_no_cluster(
    tmp_path: Path, plugin: Plugin
) -> None:
    path = write(tmp_path / "config", kubeconfig(user=exec_user(str(plugin.path))))
    cluster = await load_config(path)
    assert (await cluster.credentials.current()).authorization == f"Bearer {SECRET}"
    assert plugin.runs[0]["info"]["spec"] == {"interactive": False}


async def test_v1beta1_and_a_command_relative_to_the_kubeconfig(
    tmp_path: Path, plugin: Plugin
) -> None:
    plugin.answer(credential(token="beta", api_version=V1BETA1))
    user = exec_user("./plugin/plugin.py", api_version=V1BETA1)
    user["exec"].pop("interactiveMode")  # optional in v1beta1
    cluster = await load_config(write(tmp_path / "config", kubeconfig(user=user)))
    assert (await cluster.credentials.current()).authorization == "Bearer beta"
    assert plugin.runs[0]["info"]["apiVersion"] == V1BETA1


async def test_a_token_is_cached_until_shortly_before_it_expires(plugin: Plugin) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    expires = now + timedelta(minutes=15)
    plugin.answer(
        credential(token="first", expires=rfc3339(expires)),
        credential(token="second", expires=rfc3339(expires + timedelta(minutes=15))),
    )
    clock = [now.timestamp()]
    spec = _spec(plugin)
    creds = ExecCredentials(spec, clock=lambda: clock[0])
    first = await creds.fetch()
    for _ in range(5):
        assert await creds.current() is first
    clock[0] = (expires - timedelta(seconds=31)).timestamp()
    assert await creds.current() is first
    assert creds.runs == 1
    clock[0] = (expires - timedelta(seconds=29)).timestamp()
    # Concurrent requests at expiry run the plugin once.
    answers = await asyncio.gather(*(creds.current() for _ in range(10)))
    assert {a.authorization for a in answers} == {"Bearer second"}
    assert creds.runs == 2


async def test_a_token_without_expiry_is_kept_until_a_401(plugin: Plugin) -> None:
    plugin.answer(credential(token="first"), credential(token="second"))
    creds = ExecCredentials(_spec(plugin), clock=lambda: 4e9)
    used = await creds.fetch()
    assert await creds.current() is used
    assert await creds.unauthorized(used)
    assert (await creds.current()).authorization == "Bearer second"
    # A 401 for a credential already replaced does not run the plugin again.
    assert await creds.unauthorized(used)
    assert creds.runs == 2


def _spec(plugin: Plugin) -> ExecSpec:
    return ExecSpec(
        user="u", api_version="client.authentication.k8s.io/v1", command=str(plugin.path)
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            {"stdout": "", "stderr": "could not reach STS: timeout\n", "exit": 3},
            "failed with exit code 3: could not reach STS: timeout",
        ),
        ({"stdout": "token " + SECRET}, r"stdout is not JSON \(at character 0\)"),
        ({"stdout": ["x"]}, "stdout is not a JSON object"),
        (credential(token=SECRET, api_version=V1BETA1), "plugin returned version"),
        (
            {"stdout": {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential"}},
            "didn't return a status field",
        ),
        (credential(), "didn't return a token or cert/key pair"),
        (credential(cert=SECRET), "returned only certificate or key, not both"),
        (credential(token=SECRET, expires="soon"), "expirationTimestamp 'soon' is not RFC 3339"),
    ],
    ids=["exit", "not-json", "not-object", "version", "no-status", "empty", "half-cert", "expiry"],
)
async def test_a_failing_plugin_is_a_config_error_with_its_stderr_and_no_secret(
    tmp_path: Path,
    plugin: Plugin,
    answer: dict[str, object],
    message: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    plugin.answer(answer)
    path = write(tmp_path / "config", kubeconfig(user=exec_user(str(plugin.path))))
    with pytest.raises(ConfigError, match=message) as info:
        await load_config(path)
    assert rf"users[u].exec: {plugin.path}:" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in caplog.text


async def test_a_missing_plugin_says_so_with_its_install_hint(tmp_path: Path) -> None:
    user = exec_user("kubevents-no-such-plugin", installHint="brew install no-such-plugin")
    path = write(tmp_path / "config", kubeconfig(user=user))
    with pytest.raises(ConfigError, match=r"executable not found \(brew install no-such-plugin\)"):
        await load_config(path)


async def test_a_hanging_plugin_is_stopped(plugin: Plugin, tmp_path: Path) -> None:
    sleeper = tmp_path / "sleeper.sh"
    sleeper.write_text("#!/bin/sh\nexec sleep 30\n")
    sleeper.chmod(0o755)
    spec = ExecSpec(user="u", api_version="client.authentication.k8s.io/v1", command=str(sleeper))
    with pytest.raises(ConfigError, match=r"did not exit within 0\.2 s"):
        await ExecCredentials(spec, timeout=0.2).fetch()


async def test_a_token_in_the_kubeconfig_stops_the_plugin(tmp_path: Path, plugin: Plugin) -> None:
    user = exec_user(str(plugin.path))
    user["token"] = "static"  # client-go: a token, basic auth or a certificate wins
    cluster = await load_config(write(tmp_path / "config", kubeconfig(user=user)))
    assert (await cluster.credentials.current()).authorization == "Bearer static"
    assert plugin.runs == []
