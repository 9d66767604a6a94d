"""The webhook sink: batches of export documents POSTed to a URL."""

from kubevents.export.sinks.webhook._config import WebhookSinkConfig
from kubevents.export.sinks.webhook._encoder import encode_body, idempotency_key
from kubevents.export.sinks.webhook._service import WebhookError, WebhookSink

__all__ = [
    "WebhookError",
    "WebhookSink",
    "WebhookSinkConfig",
    "encode_body",
    "idempotency_key",
]
