"""``type: webhook``: batches POSTed to a URL (docs/sinks/jsonl-and-webhook.md)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

import msgspec
from yarl import URL

from kubevents.export._checks import (
    MAX_TIMEOUT,
    check_headers,
    check_url,
    expanded,
    readable_file,
)
from kubevents.export._configbase import ConfigError, Seconds
from kubevents.export.sinks._base import Sink
from kubevents.export.sinks._config import SinkConfigBase

__all__ = ["WebhookSinkConfig"]


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


class WebhookSinkConfig(SinkConfigBase, tag="webhook", tag_field="type", kw_only=True):
    """``type: webhook``: batches POSTed to ``url`` as a JSON array or JSON Lines."""

    url: str
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    bearer_token_file: str | None = None  # re-read when it changes (a mounted Secret)
    timeout: Seconds = Seconds.parse("10s")
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    insecure_skip_verify: bool = False
    format: Literal["array", "jsonl"] = "array"
    gzip: bool = False
    check_on_start: bool = False
    name: str = "webhook"

    def validate(self, where: str) -> None:
        check_url(self.url, f"{where}.url")
        check_headers(self.headers, f"{where}.headers")
        if not 0 < self.timeout <= MAX_TIMEOUT:
            raise ConfigError(f"{where}.timeout: must be more than 0 and at most 1h")
        if bool(self.client_cert) != bool(self.client_key):
            raise ConfigError(f"{where}: client_cert and client_key go together")
        for field in ("ca_file", "client_cert", "client_key", "bearer_token_file"):
            readable_file(getattr(self, field), f"{where}.{field}")
        methods = [
            m
            for m, on in (
                ("bearer_token_file", self.bearer_token_file is not None),
                ("headers.Authorization", any(h.lower() == "authorization" for h in self.headers)),
                ("user:password@ in url", "@" in URL(self.url).raw_authority),
            )
            if on
        ]
        if len(methods) > 1:
            raise ConfigError(
                f"{where}: choose one authentication method, not {' and '.join(methods)}"
            )

    def expand(self, environ: Mapping[str, str], where: str) -> Self:
        return msgspec.structs.replace(
            self,
            url=expanded(self.url, f"{where}.url", environ),
            headers={
                name: expanded(value, f"{where}.headers.{name}", environ)
                for name, value in self.headers.items()
            },
        )

    def build(self) -> Sink:
        from kubevents.export.sinks.webhook._service import WebhookSink

        return WebhookSink(
            self.url,
            name=self.name,
            headers=self.headers,
            bearer_token_file=_path(self.bearer_token_file),
            timeout=self.timeout,
            ca_file=_path(self.ca_file),
            client_cert=_path(self.client_cert),
            client_key=_path(self.client_key),
            insecure_skip_verify=self.insecure_skip_verify,
            batch_format=self.format,
            gzip=self.gzip,
            check_on_start=self.check_on_start,
        )
