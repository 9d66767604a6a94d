"""Kubeconfig files for the tests: one dict per file, written as YAML, and an exec plugin script.

The plugin is a real executable (a Python script with this interpreter in its shebang) that
prints an ``ExecCredential``; what it prints, and what it records of how it was run, is in JSON
files beside it, so a test can change its answer between runs and read what it was given.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

# A value that must never appear in an error message or a log line.
SECRET = "s3cr3t-t0ken-value"


def kubeconfig(
    *,
    user: dict[str, Any] | None = None,
    cluster: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    current: str | None = "ctx",
) -> dict[str, Any]:
    """One context ``ctx`` of cluster ``c`` and user ``u``; the arguments replace the parts."""
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster or {"server": "https://10.1.2.3:6443"}}],
        "users": [{"name": "u", "user": user if user is not None else {"token": SECRET}}],
        "contexts": [
            {"name": "ctx", "context": context or {"cluster": "c", "user": "u", "namespace": "ns"}}
        ],
    }
    if current is not None:
        doc["current-context"] = current
    return doc


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


_PLUGIN = """#!{python}
import json, os, sys
from pathlib import Path

here = Path(__file__).parent
state = here / "plugin-state.json"
runs = json.loads(state.read_text()) if state.exists() else []
runs.append({{"argv": sys.argv[1:], "info": json.loads(os.environ["KUBERNETES_EXEC_INFO"]),
             "env": {{k: v for k, v in os.environ.items() if k.startswith("PLUGIN_")}}}})
state.write_text(json.dumps(runs))
answers = json.loads((here / "plugin-answers.json").read_text())
answer = answers[min(len(runs), len(answers)) - 1]
sys.stderr.write(answer.get("stderr", ""))
sys.stdout.write(answer["stdout"] if isinstance(answer["stdout"], str)
                 else json.dumps(answer["stdout"]))
sys.exit(answer.get("exit", 0))
"""


class Plugin:
    """An exec credential plugin in ``directory`` whose answers the test sets."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / "plugin.py"
        self.path.write_text(_PLUGIN.format(python=sys.executable))
        self.path.chmod(0o755)
        self.answer()

    def answer(self, *answers: dict[str, Any]) -> None:
        """What the n-th run prints (the last answer repeats); default: token ``SECRET``."""
        chosen = list(answers) or [credential(token=SECRET)]
        (self.directory / "plugin-answers.json").write_text(json.dumps(chosen))

    @property
    def runs(self) -> list[dict[str, Any]]:
        state = self.directory / "plugin-state.json"
        runs: list[dict[str, Any]] = json.loads(state.read_text()) if state.exists() else []
        return runs


def credential(
    *,
    token: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    expires: str | None = None,
    api_version: str = "client.authentication.k8s.io/v1",
) -> dict[str, Any]:
    """A plugin answer that prints an ExecCredential with this status."""
    status: dict[str, Any] = {}
    if token is not None:
        status["token"] = token
    if cert is not None:
        status["clientCertificateData"] = cert
    if key is not None:
        status["clientKeyData"] = key
    if expires is not None:
        status["expirationTimestamp"] = expires
    return {"stdout": {"apiVersion": api_version, "kind": "ExecCredential", "status": status}}


def exec_user(
    command: str,
    *,
    api_version: str = "client.authentication.k8s.io/v1",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "exec": {
            "apiVersion": api_version,
            "command": command,
            "interactiveMode": "Never",
            **extra,
        }
    }
