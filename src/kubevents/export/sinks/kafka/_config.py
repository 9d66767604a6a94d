"""``type: kafka``: one record per occurrence on a Kafka topic (docs/sinks/kafka.md)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

import msgspec

from kubevents.export._checks import MAX_TIMEOUT, check_text, expanded, readable_file
from kubevents.export._configbase import ConfigError, Seconds, StrictConfig
from kubevents.export.sinks._base import Sink
from kubevents.export.sinks._config import SinkConfigBase

__all__ = ["DEFAULT_BATCH_BYTES", "KafkaSaslConfig", "KafkaSinkConfig"]

# Kafka's own rule for topic names (kafka.common.internals.Topic).
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_SERVER = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")
_MAX_BYTES = 100 * 1024 * 1024
# A produce request carries one record batch per partition of the broker, and aiokafka copies
# it whole a few times as it encodes it: 1 MiB batches made each request a few MiB of
# short-lived copies (mapped, page-faulted and unmapped each time) on top of the batches being
# filled. A quarter of that still carries a write's 500 records in a request or two per
# partition; in a burst into Kafka it drained faster, at less CPU and a lower peak RSS
# (docs/benchmarks.md, "Burst peak RSS into Kafka").
DEFAULT_BATCH_BYTES = 256 * 1024
_CODECS_NEEDING_CRAMJAM = ("snappy", "lz4", "zstd")


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


class KafkaSaslConfig(StrictConfig, kw_only=True):
    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    username: str
    password: str | None = None
    password_file: str | None = None  # a mounted Secret: re-read when it changes


class KafkaSinkConfig(SinkConfigBase, tag="kafka", tag_field="type", kw_only=True):
    """``type: kafka``: an idempotent producer (``acks=all``) writing to ``topic``."""

    bootstrap_servers: list[str]
    topic: str = "kubevents"
    format: Literal["json", "cloudevents"] = "json"
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "none"
    batch_bytes: int = DEFAULT_BATCH_BYTES
    max_request_bytes: int = 1024 * 1024
    linger: Seconds = Seconds(0)
    timeout: Seconds = Seconds.parse("30s")
    client_id: str = "kubevents"
    tls: bool = False
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    insecure_skip_verify: bool = False
    sasl: KafkaSaslConfig | None = None
    name: str = "kafka"

    def validate(self, where: str) -> None:
        if importlib.util.find_spec("aiokafka") is None:
            raise ConfigError(
                f"{where}.type: the kafka sink needs aiokafka: pip install 'kubevents[kafka]'"
            )
        if not self.bootstrap_servers:
            raise ConfigError(f"{where}.bootstrap_servers: at least one host:port is needed")
        for i, server in enumerate(self.bootstrap_servers):
            match = _SERVER.match(server)
            if match is None or not 0 < int(match.group(2)) < 65536:
                raise ConfigError(
                    f"{where}.bootstrap_servers[{i}]: expected host:port, got {server!r}"
                )
        if not _TOPIC.match(self.topic) or self.topic in (".", ".."):
            raise ConfigError(
                f"{where}.topic: {self.topic!r} is not a Kafka topic name (1-249 letters, "
                "digits, . _ -)"
            )
        if (
            self.compression in _CODECS_NEEDING_CRAMJAM
            and importlib.util.find_spec("cramjam") is None
        ):
            raise ConfigError(
                f"{where}.compression: {self.compression} needs cramjam: "
                "pip install 'kubevents[kafka]'"
            )
        for field in ("batch_bytes", "max_request_bytes"):
            value = getattr(self, field)
            if not 1024 <= value <= _MAX_BYTES:
                raise ConfigError(
                    f"{where}.{field}: must be between 1024 and {_MAX_BYTES}, got {value!r}"
                )
        if not 0 < self.timeout <= MAX_TIMEOUT:
            raise ConfigError(f"{where}.timeout: must be more than 0 and at most 1h")
        if self.linger > 60:
            raise ConfigError(f"{where}.linger: at most 1m")
        check_text(self.client_id, f"{where}.client_id", empty=False)
        if bool(self.client_cert) != bool(self.client_key):
            raise ConfigError(f"{where}: client_cert and client_key go together")
        for field in ("ca_file", "client_cert", "client_key"):
            readable_file(getattr(self, field), f"{where}.{field}")
        tls_fields = self.ca_file or self.client_cert or self.insecure_skip_verify
        if tls_fields and not self.tls:
            raise ConfigError(
                f"{where}.tls: ca_file, client_cert and insecure_skip_verify need tls: true"
            )
        if self.sasl is not None:
            self._validate_sasl(self.sasl, f"{where}.sasl")

    def _validate_sasl(self, sasl: KafkaSaslConfig, where: str) -> None:
        check_text(sasl.username, f"{where}.username", empty=False)
        if (sasl.password is None) == (sasl.password_file is None):
            raise ConfigError(f"{where}: give password or password_file (one of them)")
        check_text(sasl.password, f"{where}.password", empty=False)
        readable_file(sasl.password_file, f"{where}.password_file")

    def expand(self, environ: Mapping[str, str], where: str) -> Self:
        sasl = self.sasl
        if sasl is not None:
            sasl = msgspec.structs.replace(
                sasl,
                username=expanded(sasl.username, f"{where}.sasl.username", environ),
                password=(
                    None
                    if sasl.password is None
                    else expanded(sasl.password, f"{where}.sasl.password", environ)
                ),
            )
        return msgspec.structs.replace(
            self,
            bootstrap_servers=[
                expanded(server, f"{where}.bootstrap_servers[{i}]", environ)
                for i, server in enumerate(self.bootstrap_servers)
            ],
            sasl=sasl,
        )

    def build(self) -> Sink:
        from kubevents.export.sinks.kafka._service import KafkaAuth, KafkaSink

        sasl = self.sasl
        auth = KafkaAuth(
            tls=self.tls,
            ca_file=_path(self.ca_file),
            client_cert=_path(self.client_cert),
            client_key=_path(self.client_key),
            insecure_skip_verify=self.insecure_skip_verify,
            sasl_mechanism=sasl.mechanism if sasl else None,
            username=sasl.username if sasl else None,
            password=sasl.password if sasl else None,
            password_file=_path(sasl.password_file) if sasl else None,
        )
        return KafkaSink(
            self.bootstrap_servers,
            name=self.name,
            topic=self.topic,
            record_format=self.format,
            compression=None if self.compression == "none" else self.compression,
            batch_bytes=self.batch_bytes,
            max_request_bytes=self.max_request_bytes,
            linger=self.linger,
            timeout=self.timeout,
            client_id=self.client_id,
            auth=auth,
        )
