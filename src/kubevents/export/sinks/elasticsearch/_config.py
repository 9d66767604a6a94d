"""``type: elasticsearch`` or ``opensearch`` (docs/sinks/elasticsearch.md lists every field)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

import msgspec
from yarl import URL

from kubevents.export._checks import (
    LIMITS,
    MAX_TIMEOUT,
    bounded,
    check_headers,
    check_text,
    check_url,
    expanded,
    readable_file,
)
from kubevents.export._configbase import ConfigError, Seconds, StrictConfig
from kubevents.export.sinks._base import Sink
from kubevents.export.sinks._config import SinkConfigBase

__all__ = ["AwsSigV4Config", "ElasticsearchSinkConfig", "OpenSearchSinkConfig"]

_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")
_AWS_REGION = re.compile(r"^[a-z0-9-]{1,32}$")
# Credentials given inline may hold ``${NAME}`` references to the environment.
_EXPANDED = ("username", "password", "api_key", "bearer_token")


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


class AwsSigV4Config(StrictConfig):
    region: str
    service: Literal["es", "aoss"] = "es"
    profile: str | None = None


class ElasticsearchSinkConfig(SinkConfigBase, tag="elasticsearch", tag_field="type", kw_only=True):
    """Elasticsearch 7-9 / OpenSearch 1-3."""

    hosts: list[str]
    index: str = "kubevents"
    mode: Literal["daily", "data_stream"] = "daily"
    op_type: Literal["index", "create"] | None = None
    manage_template: bool = True
    retention_days: float | None = 30.0
    label_mapping: Literal["auto", "flattened", "dedot"] = "auto"
    shards: int = 1
    replicas: int | None = None
    template_priority: int = 200
    max_bulk_docs: int = 500
    max_bulk_bytes: int = 5 * 1024 * 1024
    gzip: bool = True
    timeout: Seconds = Seconds.parse("30s")
    item_retries: int = 3
    username: str | None = None
    password: str | None = None
    password_file: str | None = None
    api_key: str | None = None
    api_key_file: str | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    insecure_skip_verify: bool = False
    aws: AwsSigV4Config | None = None
    product: Literal["elasticsearch", "opensearch"] | None = None
    version: str | None = None
    name: str = "elasticsearch"

    def validate(self, where: str) -> None:
        if not self.hosts:
            raise ConfigError(f"{where}.hosts: at least one URL is needed")
        for i, host in enumerate(self.hosts):
            check_url(host, f"{where}.hosts[{i}]")
        if not _INDEX_NAME.match(self.index) or len(self.index) > 200:
            raise ConfigError(
                f"{where}.index: {self.index!r} is not a valid index name (lowercase letters, "
                "digits, - _ . +; not starting with - _ . +)"
            )
        if not 0 < self.timeout <= MAX_TIMEOUT:
            raise ConfigError(f"{where}.timeout: must be more than 0 and at most 1h")
        if self.mode == "data_stream" and self.op_type == "index":
            raise ConfigError(f"{where}.op_type: data streams accept only create")
        for field, low in (
            ("max_bulk_docs", 1),
            ("shards", 1),
            ("item_retries", 0),
            ("max_bulk_bytes", 1024),
            ("replicas", 0),
            ("template_priority", 0),
        ):
            bounded(getattr(self, field), f"{where}.{field}", low, field)
        check_headers(self.headers, f"{where}.headers")
        if bool(self.client_cert) != bool(self.client_key):
            raise ConfigError(f"{where}: client_cert and client_key go together")
        for field in ("ca_file", "client_cert", "client_key"):
            readable_file(getattr(self, field), f"{where}.{field}")
        self._validate_auth(where)
        if self.version is not None:
            if self.product is None:
                raise ConfigError(f"{where}.version: needs product")
            if not re.match(r"^\d+(\.\d+){0,2}$", self.version):
                raise ConfigError(f"{where}.version: expected e.g. 2.19 or 8.14.1")
        days = self.retention_days
        if days is not None and not 0 < days <= LIMITS["retention_days"]:  # NaN fails too
            raise ConfigError(
                f"{where}.retention_days: must be positive and at most "
                f"{LIMITS['retention_days']} (or null), got {days!r}"
            )

    def _validate_auth(self, where: str) -> None:
        for secret in ("password", "api_key", "bearer_token"):
            if getattr(self, secret) is not None and getattr(self, secret + "_file") is not None:
                raise ConfigError(f"{where}: give {secret} or {secret}_file, not both")
            check_text(getattr(self, secret), f"{where}.{secret}", empty=False)
            readable_file(getattr(self, secret + "_file"), f"{where}.{secret}_file")
        check_text(self.username, f"{where}.username", empty=False)
        if self.username is not None and ":" in self.username:
            raise ConfigError(f"{where}.username: must not contain ':' (HTTP basic auth)")
        methods = [
            m
            for m, on in (
                ("username/password", self.username is not None),
                ("api_key", self.api_key is not None or self.api_key_file is not None),
                (
                    "bearer_token",
                    self.bearer_token is not None or self.bearer_token_file is not None,
                ),
                ("aws", self.aws is not None),
                ("headers.Authorization", any(h.lower() == "authorization" for h in self.headers)),
                ("user:password@ in hosts", any("@" in URL(h).raw_authority for h in self.hosts)),
            )
            if on
        ]
        if len(methods) > 1:
            raise ConfigError(
                f"{where}: choose one authentication method, not {' and '.join(methods)}"
            )
        if (self.password is not None or self.password_file is not None) and self.username is None:
            raise ConfigError(f"{where}.password: needs username")
        if self.aws is not None:
            if not _AWS_REGION.match(self.aws.region):
                raise ConfigError(f"{where}.aws.region: expected e.g. eu-west-1")
            check_text(self.aws.profile, f"{where}.aws.profile", empty=False)

    def expand(self, environ: Mapping[str, str], where: str) -> Self:
        changes: dict[str, object] = {
            "headers": {
                name: expanded(value, f"{where}.headers.{name}", environ)
                for name, value in self.headers.items()
            },
            "hosts": [
                expanded(host, f"{where}.hosts[{i}]", environ) for i, host in enumerate(self.hosts)
            ],
        }
        for field in _EXPANDED:
            value = getattr(self, field)
            if value is not None:
                changes[field] = expanded(value, f"{where}.{field}", environ)
        return msgspec.structs.replace(self, **changes)

    def build(self) -> Sink:
        from kubevents.export.sinks.elasticsearch._service import ElasticsearchSink
        from kubevents.export.sinks.elasticsearch._transport import AwsSigV4, SearchAuth

        c = self
        # The *_file credentials are read by the transport at start, and again when they change.
        auth = SearchAuth(
            username=c.username,
            password=c.password,
            password_file=_path(c.password_file),
            api_key=c.api_key,
            api_key_file=_path(c.api_key_file),
            bearer_token=c.bearer_token,
            bearer_token_file=_path(c.bearer_token_file),
            headers=c.headers,
            ca_file=_path(c.ca_file),
            client_cert=_path(c.client_cert),
            client_key=_path(c.client_key),
            insecure_skip_verify=c.insecure_skip_verify,
            aws=AwsSigV4(c.aws.region, c.aws.service, c.aws.profile) if c.aws else None,
        )
        return ElasticsearchSink(
            c.hosts,
            name=c.name,
            index=c.index,
            mode=c.mode,
            op_type=c.op_type,
            manage_template=c.manage_template,
            retention_days=c.retention_days,
            label_mapping=c.label_mapping,
            shards=c.shards,
            replicas=c.replicas,
            template_priority=c.template_priority,
            max_bulk_docs=c.max_bulk_docs,
            max_bulk_bytes=c.max_bulk_bytes,
            gzip=c.gzip,
            timeout=c.timeout,
            item_retries=c.item_retries,
            auth=auth,
            product=c.product,
            version=c.version,
        )


class OpenSearchSinkConfig(
    ElasticsearchSinkConfig, tag="opensearch", tag_field="type", kw_only=True
):
    """``type: opensearch``: the same sink under the product's name."""

    name: str = "opensearch"
