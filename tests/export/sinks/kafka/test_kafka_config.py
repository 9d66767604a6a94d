"""``type: kafka`` configurations: what is refused (naming the field), what a valid one builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubevents.export import ConfigError, KafkaSinkConfig, load_export_config
from kubevents.export.sinks import KafkaSink


def sink(**fields: object) -> dict[str, object]:
    return {"type": "kafka", "bootstrap_servers": ["127.0.0.1:9092"], **fields}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"bootstrap_servers": []}, "sinks[0].bootstrap_servers: at least one host:port"),
        ({"bootstrap_servers": ["kafka://b:9092"]}, "sinks[0].bootstrap_servers[0]: expected"),
        ({"bootstrap_servers": ["b:0"]}, "sinks[0].bootstrap_servers[0]: expected host:port"),
        ({"bootstrap_servers": ["b:70000"]}, "sinks[0].bootstrap_servers[0]: expected"),
        ({"topic": "a/b"}, "sinks[0].topic: 'a/b' is not a Kafka topic name"),
        ({"topic": ".."}, "sinks[0].topic: '..' is not a Kafka topic name"),
        ({"topic": "t" * 250}, "sinks[0].topic:"),
        ({"format": "avro"}, "sinks[0].format: Invalid enum value 'avro'"),
        ({"compression": "brotli"}, "sinks[0].compression: Invalid enum value 'brotli'"),
        ({"batch_bytes": 10}, "sinks[0].batch_bytes: must be between 1024"),
        ({"max_request_bytes": 10**9}, "sinks[0].max_request_bytes: must be between"),
        ({"timeout": 0}, "sinks[0].timeout: must be more than 0"),
        ({"linger": "2m"}, "sinks[0].linger: at most 1m"),
        ({"ca_file": "/etc/hostname"}, "sinks[0].tls: ca_file, client_cert and"),
        ({"tls": True, "ca_file": "/nonexistent"}, "sinks[0].ca_file: '/nonexistent' is not"),
        ({"tls": True, "client_cert": "/etc/hostname"}, "client_cert and client_key go together"),
        ({"sasl": {"mechanism": "GSSAPI", "username": "u", "password": "p"}},
         "sinks[0].sasl.mechanism: Invalid enum value 'GSSAPI'"),
        ({"sasl": {"mechanism": "PLAIN", "username": "u"}},
         "sinks[0].sasl: give password or password_file"),
        ({"sasl": {"mechanism": "PLAIN", "username": "u", "password": "p",
                   "password_file": "/etc/hostname"}}, "sinks[0].sasl: give password or"),
        ({"sasl": {"mechanism": "PLAIN", "username": "", "password": "p"}},
         "sinks[0].sasl.username: must not be empty"),
        ({"sasl": {"mechanism": "PLAIN", "username": "u", "password_file": "/nonexistent"}},
         "sinks[0].sasl.password_file: '/nonexistent' is not a readable file"),
        ({"acks": 1}, "unknown field `acks`"),  # acks=all is not negotiable
    ],
)  # fmt: skip
def test_invalid_kafka_sinks_name_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_export_config(overrides={"sinks": [sink(**fields)]}, environ={})
    assert message in str(info.value)


def test_a_password_is_never_repeated_in_an_error() -> None:
    secret = "p\x01ssword-9f3c"
    with pytest.raises(ConfigError) as info:
        load_export_config(
            overrides={"sinks": [sink(sasl={"mechanism": "PLAIN", "username": "u",
                                             "password": secret})]},
            environ={},
        )  # fmt: skip
    assert "sinks[0].sasl.password: contains a control character" in str(info.value)
    assert secret not in str(info.value)


def test_credentials_expand_from_the_environment_and_the_sink_is_remote(tmp_path: Path) -> None:
    config = load_export_config(
        overrides={
            "sinks": [
                sink(
                    bootstrap_servers=["${BROKER}:9093"],
                    sasl={"mechanism": "SCRAM-SHA-512", "username": "${USER}",
                          "password": "${PASSWORD}"},
                )
            ]
        },
        environ={"BROKER": "kafka-0", "USER": "kubevents", "PASSWORD": "s3cret"},
    )  # fmt: skip
    (kafka,) = config.sinks
    assert isinstance(kafka, KafkaSinkConfig)
    assert kafka.bootstrap_servers == ["kafka-0:9093"]
    assert kafka.sasl is not None
    assert (kafka.sasl.username, kafka.sasl.password) == ("kubevents", "s3cret")
    assert kafka.remote  # spools by default, like the other network sinks
    built = kafka.build()
    assert isinstance(built, KafkaSink)
    assert built.name == "kafka"
    assert built.topic == "kubevents"
