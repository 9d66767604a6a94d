"""The kubeconfig file's schema (clientcmd/api/v1), decoded from YAML into typed structs.

Only the fields kubevents uses are declared; the rest (preferences, extensions it does not
read, impersonation) are ignored like unknown fields. Data fields stay the base64 text they
are in the file until the loader decodes them, so an error can name the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import yaml

from kubevents.errors import ConfigError

__all__ = [
    "AuthProvider",
    "ClusterEntry",
    "ContextEntry",
    "ExecConfig",
    "KubeconfigFile",
    "UserEntry",
    "read_kubeconfig",
]


class _Entry(msgspec.Struct, rename="kebab"):
    pass


class Extension(msgspec.Struct):
    name: str = ""
    extension: Any = None


class ClusterInfo(_Entry):
    server: str = ""
    certificate_authority: str = ""
    certificate_authority_data: str = ""
    insecure_skip_tls_verify: bool = False
    tls_server_name: str = ""
    proxy_url: str = ""
    disable_compression: bool = False
    extensions: list[Extension] | None = None


class ClusterEntry(msgspec.Struct):
    name: str = ""
    cluster: ClusterInfo | None = None


class ExecEnv(msgspec.Struct):
    name: str = ""
    value: str = ""


class ExecConfig(msgspec.Struct, rename="camel"):
    api_version: str = ""
    command: str = ""
    args: list[str] | None = None
    env: list[ExecEnv] | None = None
    install_hint: str = ""
    provide_cluster_info: bool = False
    interactive_mode: str = ""


class AuthProvider(msgspec.Struct):
    name: str = ""
    config: dict[str, str] | None = None


class UserInfo(_Entry):
    client_certificate: str = ""
    client_certificate_data: str = ""
    client_key: str = ""
    client_key_data: str = ""
    token: str = ""
    token_file: str = msgspec.field(default="", name="tokenFile")
    username: str = ""
    password: str = ""
    exec: ExecConfig | None = None
    auth_provider: AuthProvider | None = None


class UserEntry(msgspec.Struct):
    name: str = ""
    user: UserInfo | None = None


class ContextInfo(msgspec.Struct):
    cluster: str = ""
    user: str = ""
    namespace: str = ""


class ContextEntry(msgspec.Struct):
    name: str = ""
    context: ContextInfo | None = None


class KubeconfigFile(_Entry):
    clusters: list[ClusterEntry] | None = None
    users: list[UserEntry] | None = None
    contexts: list[ContextEntry] | None = None
    current_context: str = ""


def read_kubeconfig(path: Path) -> KubeconfigFile:
    """Read and decode ``path``; ``ConfigError`` says which field or why the file cannot be."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {str(path)!r}: {exc.strerror or exc}") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        # The problem only, not the context snippet: it may quote a token.
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"kubeconfig {str(path)!r} is not valid YAML{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"kubeconfig {str(path)!r}: the document is not a mapping")
    try:
        return msgspec.convert(data, KubeconfigFile, strict=False)
    except msgspec.ValidationError as exc:
        # msgspec names the path and the expected type, never the value.
        raise ConfigError(f"kubeconfig {str(path)!r}: {exc}") from None
