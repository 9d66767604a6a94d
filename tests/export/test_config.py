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
    parse_file_mode,
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
    assert config.buffer.flush_delay == 0.25
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
        ("sinks: [{type: pulsar}]\n", "sinks[0].type: Invalid value 'pulsar'"),
        ("sinks: [{type: webhook}]\n", "sinks[0]: Object missing required field `url`"),
        ("sinks: [{type: webhook, url: 'ftp://x'}]\n", "sinks[0].url: not an http(s) URL"),
        ("sinks: [{type: sqlite}, {type: sqlite}]\n", "sinks[1].name: duplicate sink name"),
        ("sinks: [{type: sqlite, retention_days: 0}]\n", "sinks[0].retention_days: must be"),
        ("rules: {drop: [{message: '(['}]}\n", "rules.drop[0].message: invalid regular expression"),
        ("rules: {drop: [{}]}\n", "rules.drop[0]: a rule needs at least one field"),
        ("rules: {match: [{namespace: ''}]}\n", "rules.match[0].namespace: empty value"),
        ("rules: {drop: [{colour: red}]}\n", "unknown field `colour`"),
        (
            "sinks: [{type: sqlite, rules: {match: [{type: Warning}, {reason: '(['}]}},"
            " {type: jsonl, path: x.jsonl, rules: {drop: [{message: '(['}]}}]\n",
            "sinks[1].rules.drop[0].message: invalid regular expression",
        ),
        ("sinks: [{type: sqlite, rules: {match: [{}]}}]\n", "sinks[0].rules.match[0]: a rule"),
        (
            "sinks: [{type: sqlite, rules: {drop: [{name: no_match, type: x}]}}]\n",
            "sinks[0].rules.drop[0].name",
        ),
        ("sinks: [{type: sqlite, rules: {keep: []}}]\n", "unknown field `keep`"),
        ("sinks: [{type: sqlite, throttle: {}}]\n", "missing required field `min_interval`"),
        (
            "sinks: [{type: sqlite, throttle: {min_interval: 0s}}]\n",
            "sinks[0].throttle.min_interval: must be more than 0 and at most 1h",
        ),
        ("sinks: [{type: sqlite, throttle: {min_interval: 2h}}]\n", "at most 1h"),
        ("sinks: [{type: sqlite, throttle: {min_interval: often}}]\n", "invalid duration"),
        ("capture: {max_bytes: 1MiB}\n", "capture: Object missing required field `path`"),
        ("capture: {path: c.gz, max_bytes: 1000}\n", "capture.max_bytes: must be at least 1MiB"),
        ("capture: {path: c.gz, backups: -1}\n", "capture.backups: must be at least 0"),
        ("capture: {path: c.gz, file_mode: '0755'}\n", "capture.file_mode: 0755 has execute"),
        ("capture: {path: ''}\n", "capture.path"),
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
        ({"past": "366d"}, "time_window.past: at most 365d"),
        ({"future": float("nan")}, "time_window.future: must be a finite duration"),
        ({"futur": "1h"}, "time_window: Object contains unknown field `futur`"),
    ],
)
def test_a_bad_time_window_names_the_field(window: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_export_config(overrides={"time_window": window}, environ={})
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Non-finite and absurd durations, refused as every duration field is decoded.
        ("watch_timeout: .inf\n", "watch_timeout: must be a finite duration"),
        ("buffer: {flush_delay: .nan}\n", "buffer.flush_delay: must be a finite duration"),
        ("buffer: {spool: {spill_after: -1}}\n", "buffer.spool.spill_after: must not be negative"),
        ("health: {stall_after: .inf}\n", "health.stall_after: must be a finite duration"),
        ("shutdown_timeout: .nan\n", "shutdown_timeout: must be a finite duration"),
        ("state_ttl: 400d\n", "state_ttl: at most 365d"),
        ("checkpoint_interval: 0\n", "checkpoint_interval: must be at least 10ms"),
        # Sizes: bounded on both sides.
        ("buffer: {queue_size: 1000000000000}\n", "buffer.queue_size: must be at most 1000000"),
        ("buffer: {max_batch_size: -1}\n", "buffer.max_batch_size: must be at least 1"),
        ("buffer: {max_concurrency: 100000}\n", "buffer.max_concurrency: must be at most 256"),
        ("page_size: 100000000\n", "page_size: must be at most 10000"),
        ("listen: 127.0.0.1:99999\n", "listen: port 99999 is not in 0-65535"),
        # Names that become metric labels, paths or log text.
        ("namespace: 'a: b: c'\n", "namespace: 'a: b: c' is not a namespace name"),
        ('cluster_name: "prod\\x1b[2J"\n', "cluster_name: contains a control character"),
        ("cluster_name: ''\n", "cluster_name: must not be empty"),
        ('sinks: [{type: jsonl, name: "a\\nb"}]\n', "sinks[0].name: 'a\\nb' is not a valid name"),
        ("rules: {drop: [{name: 'a b', type: Normal}]}\n", "rules.drop[0].name: 'a b' is not"),
        ('checkpoint: "a\\0b"\n', "checkpoint: contains a control character"),
        # Per-sink ranges.
        ("sinks: [{type: sqlite, retention_days: .inf}]\n", "sinks[0].retention_days: must be"),
        ("sinks: [{type: sqlite, retention_days: .nan}]\n", "sinks[0].retention_days: must be"),
        ("sinks: [{type: jsonl, backups: -1}]\n", "sinks[0].backups: must be at least 0"),
        ("sinks: [{type: jsonl, file_mode: 0644}]\n", "sinks[0].file_mode: give the mode as a"),
        ("sinks: [{type: sqlite, file_mode: '0400'}]\n", "sinks[0].file_mode: 0400 must let"),
        ("sinks: [{type: sqlite, file_mode: '0755'}]\n", "sinks[0].file_mode: 0755 has execute"),
        ("sinks: [{type: sqlite, file_mode: rw}]\n", "sinks[0].file_mode: expected an octal"),
        ("dead_letter_file_mode: 600\n", "dead_letter_file_mode: give the mode as a quoted"),
        ("sinks: [{type: webhook, url: 'https://h:99999/'}]\n", "sinks[0].url: invalid URL"),
        ("sinks: [{type: webhook, url: 'https://h/', timeout: 0}]\n", "sinks[0].timeout: must"),
        (
            "sinks: [{type: webhook, url: 'https://h/', headers: {'Bad Name': x}}]\n",
            "sinks[0].headers: 'Bad Name' is not a valid header name",
        ),
        (
            "sinks: [{type: webhook, url: 'https://h/', bearer_token_file: /nonexistent/t}]\n",
            "sinks[0].bearer_token_file: '/nonexistent/t' is not a readable file",
        ),
        (
            "sinks: [{type: webhook, url: 'https://u:p@h/', headers: {Authorization: x}}]\n",
            "sinks[0]: choose one authentication method",
        ),
        (
            "sinks: [{type: elasticsearch, hosts: ['http://u:p@es:9200'], api_key: k}]\n",
            "sinks[0]: choose one authentication method, not api_key and user:password@",
        ),
        (
            "sinks: [{type: elasticsearch, hosts: ['https://es'], shards: 5000}]\n",
            "sinks[0].shards: must be at most 1024",
        ),
        (
            "sinks: [{type: elasticsearch, hosts: ['https://es'], max_bulk_bytes: 1000000000}]\n",
            "sinks[0].max_bulk_bytes: must be at most",
        ),
        (
            "sinks: [{type: elasticsearch, hosts: ['https://es'], timeout: .inf}]\n",
            "sinks[0].timeout: must be a finite duration",
        ),
        (
            "sinks: [{type: elasticsearch, hosts: ['https://es'], username: 'a:b', password: x}]\n",
            "sinks[0].username: must not contain ':'",
        ),
        # The YAML itself.
        ("sinks: []\nnamespace: a\nsinks: []\n", "sinks: given twice (again at line 3)"),
        ("a: " + "[" * 5000 + "\n", "not valid YAML"),
    ],
)
def test_values_out_of_range_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_export_config(write(tmp_path, text), environ={})
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"cluster_name: caf\xe9\n", "not UTF-8 text (byte 17)"),
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
    with pytest.raises(
        ConfigError, match=r"sinks\[0\]\.path: (must not be empty|'.*' is a directory)"
    ):
        load_export_config(overrides={"sinks": [{"type": kind, "path": path}]}, environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("checkpoint: {file}/state\n", "checkpoint: '{file}/state' is under '{file}', which is"),
        ("dead_letter: {tmp}\n", "dead_letter: '{tmp}' is a directory, not a file"),
        ("sinks: [{{type: sqlite, path: {tmp}}}]\n", "sinks[0].path: '{tmp}' is a directory"),
        (
            "sinks: [{{type: jsonl, path: {file}/x.jsonl}}]\n",
            "sinks[0].path: '{file}/x.jsonl' is under '{file}'",
        ),
        (
            "sinks: [{{type: sqlite, path: {tmp}/a.db}}, {{type: jsonl, path: {tmp}/a.db}}]\n",
            "sinks[1].path: writes the same file as sinks[0].path",
        ),
        (
            "sinks: [{{type: sqlite, path: {tmp}/a.db}}]\ndead_letter: {tmp}/a.db-wal\n",
            "dead_letter: writes the same file as sinks[0].path",
        ),
        (
            "sinks: [{{type: sqlite, path: {tmp}/a.db}}]\ncheckpoint: {tmp}/a.db\n",
            "checkpoint: writes the same file as sinks[0].path",
        ),
        (
            "sinks: [{{type: jsonl, path: {tmp}/e.jsonl, backups: 2}}]\n"
            "dead_letter: {tmp}/e.jsonl.2\n",
            "dead_letter: writes the same file as sinks[0].path",
        ),
    ],
)
def test_files_the_exporter_writes_are_checked_before_start(
    tmp_path: Path, text: str, message: str
) -> None:
    regular = tmp_path / "regular-file"
    regular.write_text("x")
    values = {"tmp": str(tmp_path), "file": str(regular)}
    with pytest.raises(ConfigError) as info:
        load_export_config(write(tmp_path, text.format(**values)), environ={})
    assert message.format(**values) in str(info.value)


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.yaml"
    path.write_bytes(b"cluster_name: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 17\)"):
        load_export_config(path, environ={})


def test_a_yaml_error_does_not_quote_the_line(tmp_path: Path) -> None:
    # The snippet PyYAML would print can hold a credential.
    path = write(tmp_path, 'sinks: [{type: webhook, url: "https://h/", headers: {A: "s3cret}]\n')
    with pytest.raises(ConfigError) as info:
        load_export_config(path, environ={})
    assert "not valid YAML at line" in str(info.value) and "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KUBEVENTS_NAMESPACE": "a: b: c"}, "KUBEVENTS_NAMESPACE: not valid YAML"),
        ({"KUBEVENTS_LISTEN": "["}, "KUBEVENTS_LISTEN: not valid YAML"),
        ({"KUBEVENTS_LISTEN": "[1, 2]"}, "listen (from KUBEVENTS_LISTEN): Expected `str | null`"),
        ({"KUBEVENTS_PAGE_SIZE": "0"}, "page_size (from KUBEVENTS_PAGE_SIZE): must be at least"),
        ({"KUBEVENTS_WATCH_TIMEOUT": ".inf"}, "watch_timeout (from KUBEVENTS_WATCH_TIMEOUT):"),
    ],
)
def test_bad_environment_variables_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_export_config(environ=env)
    assert message in str(info.value)


def test_file_modes_and_merge_keys_are_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
sinks:
  - &base {{type: jsonl, backups: 2, path: {tmp_path}/a.jsonl, file_mode: "0640", name: a}}
  - {{<<: *base, path: {tmp_path}/b.jsonl, name: b}}
  - {{type: sqlite, path: {tmp_path}/y.db, file_mode: "600"}}
dead_letter_file_mode: "0660"
""",
    )
    config = load_export_config(path, environ={})
    _, b, db = config.sinks
    assert isinstance(b, JSONLSinkConfig) and (b.backups, b.file_mode) == (2, "0640")
    assert isinstance(db, SQLiteSinkConfig) and parse_file_mode(db.file_mode, "x") == 0o600
    assert parse_file_mode(config.dead_letter_file_mode, "x") == 0o660


def test_cluster_and_exporter_config_errors_are_one_class() -> None:
    # A caller that catches the exporter's ConfigError also catches an unusable kubeconfig.
    import kubevents.errors
    import kubevents.kube

    assert kubevents.kube.ConfigError is ConfigError
    assert kubevents.errors.ConfigError is ConfigError


def test_durations_are_parsed_once_into_seconds() -> None:
    config = load_export_config(
        overrides={"state_ttl": "1h30m", "health": {"stall_after": 90}},
        environ={"KUBEVENTS_SHUTDOWN_TIMEOUT": "1w"},
    )
    assert (config.state_ttl, config.health.stall_after, config.shutdown_timeout) == (
        5400.0,
        90.0,
        604800.0,
    )
    assert isinstance(config.state_ttl, float)
    assert isinstance(config.health.sink_failing_after, float)


def test_a_bad_duration_names_the_field_and_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_export_config(environ={"KUBEVENTS_SHUTDOWN_TIMEOUT": "1h 30m"})
    assert str(info.value).startswith(
        "shutdown_timeout (from KUBEVENTS_SHUTDOWN_TIMEOUT): invalid duration '1h 30m'"
    )
    with pytest.raises(ConfigError, match=r"^sinks\[0\]\.timeout: invalid duration 'soon'"):
        load_export_config(
            overrides={
                "sinks": [{"type": "webhook", "url": "https://x.example", "timeout": "soon"}]
            },
            environ={},
        )


def test_a_sinks_zero_flush_delay_replaces_the_default(tmp_path: Path) -> None:
    from kubevents.export._topology import driver_settings

    path = write(
        tmp_path,
        "buffer: {flush_delay: 2s}\n"
        "sinks:\n"
        "  - {type: jsonl, name: a, path: a.jsonl, buffer: {flush_delay: 0s}}\n"
        "  - {type: jsonl, name: b, path: b.jsonl}\n",
    )
    config = load_export_config(path, environ={})
    zero, default = (driver_settings(config, sink) for sink in config.sinks)
    assert (zero.flush_delay, default.flush_delay) == (0.0, 2.0)


def test_a_sinks_spill_after_reaches_its_spool(tmp_path: Path) -> None:
    from kubevents.export._topology import buffer_settings

    path = write(
        tmp_path,
        "buffer: {spool: {spill_after: 30s}}\n"
        "sinks:\n"
        "  - {type: webhook, name: a, url: 'https://a.example'}\n"
        "  - {type: webhook, name: b, url: 'https://b.example',\n"
        "     buffer: {spool: {spill_after: 0s}}}\n",
    )
    config = load_export_config(path, environ={})
    top, own = (buffer_settings(config, sink, sink.name) for sink in config.sinks)
    assert top.spool is not None and own.spool is not None
    assert (top.spool.spill_after, own.spool.spill_after) == (30.0, 0.0)
