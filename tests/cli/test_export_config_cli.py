"""``kubevents export`` with bad configurations, as the real command: exit 2, the field, no
traceback, before anything starts (no kubeconfig is reachable, so a configuration that got
through would fail later with a different message)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# (config file bytes, extra environment ("+": an extra flag), what stderr must name)
CASES: dict[str, tuple[bytes, dict[str, str], str]] = {
    "infinite watch_timeout": (b"watch_timeout: .inf\n", {}, "watch_timeout: must be a finite"),
    "nan flush_delay": (b"buffer: {flush_delay: .nan}\n", {}, "buffer.flush_delay: must be"),
    "huge queue": (b"buffer: {queue_size: 1000000000000}\n", {}, "buffer.queue_size: must be"),
    "port out of range": (b"listen: 127.0.0.1:99999\n", {}, "listen: port 99999"),
    "busy checkpoint loop": (b"checkpoint_interval: 0\n", {}, "checkpoint_interval: must be"),
    "checkpoint under a file": (b"checkpoint: {file}/state\n", {}, "checkpoint: '{file}/state'"),
    "dead letters into a directory": (b"dead_letter: {tmp}\n", {}, "dead_letter: '{tmp}' is a"),
    "not UTF-8": (b"cluster_name: caf\xe9\n", {}, "not UTF-8 text"),
    # --jsonl adds a sink to the file's, so the file is read for its sinks first.
    "not UTF-8, with a flag sink": (b"sinks: []\n# caf\xe9\n", {"+": "--jsonl=-"}, "not UTF-8"),
    "namespace env not YAML": (b"", {"KUBEVENTS_NAMESPACE": "a: b: c"}, "KUBEVENTS_NAMESPACE"),
    "listen env not YAML": (b"", {"KUBEVENTS_LISTEN": "["}, "KUBEVENTS_LISTEN: not valid YAML"),
    "enrich unknown kind": (
        b"enrich: {kinds: [Pod, Widget]}\n",
        {},
        "enrich.kinds[1]: 'Widget' is not a kind",
    ),
    "enrich bad label key": (
        b"enrich: {kinds: [Pod], labels: ['a b']}\n",
        {},
        "enrich.labels[0]: 'a b' is not a",
    ),
    "missing credential variable": (
        b'sinks: [{type: webhook, url: "https://h/", headers: {Authorization: "Bearer ${TK}"}}]\n',
        {},
        "sinks[0].headers.Authorization: environment variable TK is not set",
    ),
    "kafka without a port": (
        b"sinks: [{type: kafka, bootstrap_servers: [broker-0]}]\n",
        {},
        "sinks[0].bootstrap_servers[0]: expected host:port, got 'broker-0'",
    ),
    "kafka password variable unset": (
        b"sinks: [{type: kafka, bootstrap_servers: ['b:9092'], sasl: {mechanism: PLAIN, "
        b"username: u, password: '${KAFKA_PW}'}}]\n",
        {},
        "sinks[0].sasl.password: environment variable KAFKA_PW is not set",
    ),
    "heartbeat faster than 100ms": (
        b"heartbeat: {enabled: true, interval: 10ms}\n",
        {},
        "heartbeat.interval: must be at least 100ms",
    ),
    "heartbeat max_age under two beats": (
        b"heartbeat: {enabled: true, interval: 30s, max_age: 45s}\n",
        {},
        "heartbeat.max_age: must be at least twice heartbeat.interval (60s)",
    ),
    "heartbeat about a lease without one": (
        b"heartbeat: {enabled: true, object: lease}\n",
        {},
        "heartbeat.object: lease needs leader_election.enabled",
    ),
    "heartbeat unknown key": (b"heartbeat: {enable: true}\n", {}, "heartbeat: Object contains"),
    # Outside a pod, with no name given: known before any connection is tried.
    "heartbeat about no pod": (
        b"heartbeat: {enabled: true}\n",
        {},
        "heartbeat.name: not set, and $POD_NAME is empty",
    ),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """Every case at once, as concurrent processes: each one is a full interpreter start."""
    tmp = tmp_path_factory.mktemp("export-config")
    regular = tmp / "regular-file"
    regular.write_text("x")
    values = {"tmp": str(tmp), "file": str(regular)}
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KUBEVENTS_") and k != "KUBERNETES_SERVICE_HOST"
    }
    base_env.update(KUBECONFIG=str(tmp / "no-kubeconfig"), HOME=str(tmp))
    running = {}
    for i, (name, (text, env, _)) in enumerate(CASES.items()):
        path = tmp / f"case-{i}.yaml"
        path.write_bytes(
            text.replace(b"{tmp}", str(tmp).encode()).replace(b"{file}", str(regular).encode())
        )
        flags = [env["+"]] if "+" in env else []
        env = {k: v for k, v in env.items() if k != "+"}
        running[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubevents.cli",
                "export",
                "-c",
                str(path),
                "--no-listen",
                *flags,
            ],
            env={**base_env, **env},
            cwd=tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    for name, process in running.items():
        _, err = process.communicate(timeout=120)
        expected = CASES[name][2].format(**values)
        results[name] = (process.returncode, err, expected)
    return results


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_configuration_exits_2_naming_the_field(
    outcomes: dict[str, tuple[int, str, str]], case: str
) -> None:
    code, stderr, expected = outcomes[case]
    assert "Traceback" not in stderr
    assert expected in stderr, stderr
    assert code == 2
