"""Loading the exporter configuration: the YAML file, ``KUBEVENTS_*`` variables, then flags.

Whatever the input (bytes that are not UTF-8, broken YAML, duplicate keys, nesting deep enough
to exhaust the parser, an environment variable that is not valid YAML), the outcome is an
``ExportConfig`` or a ``ConfigError`` naming the field (and the variable, when the value came
from one). Messages never quote the offending line: it may hold a credential.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from kubevents.export._config import (
    ENV_PREFIX,
    ConfigError,
    ExportConfig,
)
from kubevents.export._configbase import decode_hook
from kubevents.export._validate import validate_config

__all__ = ["load_export_config", "read_config_file"]


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # keys merged in with << may be overridden: that is their purpose
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                line = key_node.start_mark.line + 1
                raise ConfigError(f"{key}: given twice (again at line {line})")
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep)


def _parse_yaml(text: str, where: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{where}: not valid YAML{at}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid YAML: nested too deeply") from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The top-level mapping of a YAML configuration file (empty for an empty file)."""
    where = f"config file {str(path)!r}"
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    loaded = _parse_yaml(text, where)
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    return loaded or {}


def _env_overrides(environ: Mapping[str, str]) -> dict[str, tuple[str, Any]]:
    """``KUBEVENTS_<FIELD>`` for every top-level scalar field: field -> (variable, value)."""
    out: dict[str, tuple[str, Any]] = {}
    scalar = {
        f.name
        for f in msgspec.structs.fields(ExportConfig)
        if f.name
        not in (
            "buffer",
            "sinks",
            "rules",
            "health",
            "time_window",
            "leader_election",
            "capture",
            "heartbeat",
        )
    }
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        field = key[len(ENV_PREFIX) :].lower()
        if field in scalar:
            out[field] = (key, _parse_yaml(value, key) if value else None)
    return out


def _error_path(message: str) -> str:
    # msgspec: "Expected `int`, got `str` - at `$.buffer.queue_size`" -> "buffer.queue_size: ..."
    match = re.match(r"^(.*) - at `\$\.?(.*)`$", message)
    if match is None:
        return message
    return f"{match.group(2) or '(top level)'}: {match.group(1)}"


def _check_text(value: object, where: str) -> None:
    """Refuse a lone surrogate (YAML's ``"\\ud800"``): no file name, URL or header can hold one."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ConfigError(
                f"{where or '(top level)'}: not valid Unicode: {value!r:.80}"
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(item, f"{where}[{i}]")


def _blame(message: str, variables: Mapping[str, str]) -> str:
    """Add the environment variable a failing top-level field came from."""
    field = re.split(r"[.:\[ ]", message, maxsplit=1)[0]
    variable = variables.get(field)
    if variable is None:
        return message
    head, sep, tail = message.partition(":")
    return f"{head} (from {variable}){sep}{tail}"


def load_export_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ExportConfig:
    """Build and validate the configuration (file < environment < ``overrides``).

    ``${NAME}`` in sink credentials (``headers`` values, a webhook ``url``, search ``hosts``,
    ``username``, ``password``, ``api_key``, ``bearer_token``) is expanded from ``environ``.
    """
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    if path is not None:
        data.update(read_config_file(path))
    from_env = _env_overrides(env)
    data.update({field: value for field, (_, value) in from_env.items()})
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    data.update(flags)
    variables = {field: var for field, (var, _) in from_env.items() if field not in flags}
    try:
        try:
            _check_text(data, "")
            config = msgspec.convert(data, ExportConfig, dec_hook=decode_hook)
        except msgspec.ValidationError as exc:
            raise ConfigError(_error_path(str(exc))) from None
        except RecursionError:
            raise ConfigError("configuration nested too deeply") from None
        sinks = [s.expand(env, f"sinks[{i}]") for i, s in enumerate(config.sinks)]
        config = msgspec.structs.replace(config, sinks=sinks)
        validate_config(config)
    except ConfigError as exc:
        raise ConfigError(_blame(str(exc), variables)) from None
    return config
