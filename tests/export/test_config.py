"""Configuration: every class of invalid input fails at start, naming the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kubevents.export import (
    ConfigError,
    JSONLSinkConfig,
    SQLiteSinkConfig,
    WebhookSinkConfig,
    load_export_config,
    parse_duration,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kubevents.yaml"
    path.write_text(text)
    return path


def test_defaults_use_the_embedded_sqlite_store() -> None:
    config = load_export_config(environ={})
    assert config.effective_sinks() == [SQLiteSinkConfig()]
    assert config.checkpoint_path() == Path("kubevents.db.checkpoint")
    assert config.namespace is None and config.listen == "127.0.0.1:9090"


def test_file_env_and_flags_layer_in_that_order(tmp_path: Path) -> None:
    path = write(tmp_path, "cluster_name: from-file\nnamespace: shop\npage_size: 100\n")
    env = {"KUBEVENTS_CLUSTER_NAME": "from-env", "KUBEVENTS_PAGE_SIZE": "250", "OTHER": "x"}
    config = load_export_config(path, {"cluster_name": "from-flag"}, environ=env)
    assert (config.cluster_name, config.namespace, config.page_size) == ("from-flag", "shop", 250)


def test_a_full_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
cluster_name: prod
buffer: {queue_size: 100, max_batch_size: 50, flush_delay: 250ms, max_concurrency: 2}
sinks:
  - {type: sqlite, path: /tmp/x.db, retention_days: 7}
  - {type: jsonl, path: "-"}
  - {type: webhook, url: "https://hooks.example/events", headers: {Authorization: Bearer t}}
rules:
  drop:
    - {namespace: [kube-system, "kube-*"], type: Normal}
  match:
    - {message: "Back-?off"}
dead_letter: /tmp/dead.jsonl
""",
    )
    config = load_export_config(path, environ={})
    kinds = [type(s) for s in config.sinks]
    assert kinds == [SQLiteSinkConfig, JSONLSinkConfig, WebhookSinkConfig]
    assert parse_duration(config.buffer.flush_delay, "x") == 0.25
    assert config.checkpoint_path() == Path("/tmp/x.db.checkpoint")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour: red\n", "unknown field `colour`"),
        ("buffer: {queue_sise: 5}\n", "buffer: Object contains unknown field `queue_sise`"),
        ("page_size: many\n", "page_size: Expected `int`, got `str`"),
        ("buffer: {flush_delay: soon}\n", "buffer.flush_delay: invalid duration 'soon'"),
        ("shutdown_timeout: -5s\n", "shutdown_timeout: invalid duration"),
        ("buffer: {queue_size: 0}\n", "buffer.queue_size: must be at least 1"),
        ("field_selector: 'type=Warning,,'\n", "field_selector: invalid requirement"),
        ("field_selector: 'type'\n", "field_selector: invalid requirement 'type'"),
        ("label_selector: 'app in (a,'\n", "label_selector: invalid requirement"),
        ("sinks: [{type: kafka}]\n", "sinks[0].type: Invalid value 'kafka'"),
        ("sinks: [{type: webhook}]\n", "sinks[0]: Object missing required field `url`"),
        ("sinks: [{type: webhook, url: 'ftp://x'}]\n", "sinks[0].url: not an http(s) URL"),
        ("sinks: [{type: sqlite}, {type: sqlite}]\n", "sinks[1].name: duplicate sink name"),
        ("sinks: [{type: sqlite, retention_days: 0}]\n", "sinks[0].retention_days: must be"),
        ("rules: {drop: [{message: '(['}]}\n", "rules.drop[0].message: invalid regular expression"),
        ("rules: {drop: [{}]}\n", "rules.drop[0]: a rule needs at least one field"),
        ("rules: {match: [{namespace: ''}]}\n", "rules.match[0].namespace: empty value"),
        ("rules: {drop: [{colour: red}]}\n", "unknown field `colour`"),
        ("listen: nowhere\n", "listen: expected host:port"),
        ("- a\n- b\n", "expected a mapping at the top level"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_invalid_configs_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_export_config(write(tmp_path, text), environ={})
    assert message in str(info.value)


def test_valid_selectors_pass() -> None:
    config = load_export_config(
        overrides={
            "field_selector": "type=Warning,involvedObject.kind!=Node",
            "label_selector": "app in (web, api),!legacy,tier=front,env",
        },
        environ={},
    )
    assert config.field_selector and config.label_selector


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_export_config(tmp_path / "nope.yaml", environ={})


def test_bad_environment_values_name_the_field() -> None:
    with pytest.raises(ConfigError, match="page_size"):
        load_export_config(environ={"KUBEVENTS_PAGE_SIZE": "lots"})


def test_the_time_window() -> None:
    default = load_export_config(environ={}).time_window.window()
    assert (default.past, default.future) == (timedelta(days=30), timedelta(hours=1))
    custom = load_export_config(
        overrides={"time_window": {"past": "7d", "future": "10m"}}, environ={}
    ).time_window.window()
    assert (custom.past, custom.future) == (timedelta(days=7), timedelta(minutes=10))


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"past": "soon"}, "time_window.past: invalid duration 'soon'"),
        ({"future": -1}, "time_window.future: must not be negative"),
        ({"past": "36501d"}, "time_window.past: must be at most 36500d"),
        ({"future": float("nan")}, "time_window.future: must be at most 36500d"),
        ({"futur": "1h"}, "time_window: Object contains unknown field `futur`"),
    ],
)
def test_a_bad_time_window_names_the_field(window: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_export_config(overrides={"time_window": window}, environ={})
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"cluster_name: caf\xe9\n", "not UTF-8 (byte 17)"),
        (b"sinks: " + b"[" * 2000 + b"]" * 2000 + b"\n", "nested too deeply"),
        (b'sinks: [{type: "\\ud800"}]\n', "sinks[0].type: not valid Unicode"),
        (b'rules: {drop: [{reason: "a\\udc00"}]}\n', "rules.drop[0].reason: not valid Unicode"),
    ],
    ids=["latin-1 file", "deep nesting", "surrogate tag", "surrogate value"],
)
def test_unreadable_config_text_is_a_config_error(
    tmp_path: Path, data: bytes, message: str
) -> None:
    # Found by tests/fuzz: each ended in a traceback, except the surrogate value (accepted,
    # a rule that can never match).
    path = tmp_path / "kubevents.yaml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_export_config(path, environ={})
    assert message in str(info.value)


def test_overrides_nested_too_deeply_are_a_config_error() -> None:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_export_config(overrides={"sinks": deep}, environ={})


@pytest.mark.parametrize("path", ["", "/", "."])
@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_a_sink_path_that_names_no_file_is_a_config_error(kind: str, path: str) -> None:
    # Found by tests/fuzz: accepted, then checkpoint_path() raised ValueError at start.
    with pytest.raises(ConfigError, match=r"sinks\[0\]\.path: not a file path"):
        load_export_config(overrides={"sinks": [{"type": kind, "path": path}]}, environ={})
