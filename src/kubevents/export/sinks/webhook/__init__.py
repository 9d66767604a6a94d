"""The webhook sink: batches of export documents POSTed to a URL."""

from typing import TYPE_CHECKING

from kubevents._lazy import lazy_exports
from kubevents.export.sinks.webhook._config import WebhookSinkConfig

if TYPE_CHECKING:
    from kubevents.export.sinks.webhook._encoder import encode_body, idempotency_key
    from kubevents.export.sinks.webhook._service import WebhookError, WebhookSink
else:
    __getattr__ = lazy_exports(
        __name__,
        {
            "encode_body": "kubevents.export.sinks.webhook._encoder",
            "idempotency_key": "kubevents.export.sinks.webhook._encoder",
            "WebhookError": "kubevents.export.sinks.webhook._service",
            "WebhookSink": "kubevents.export.sinks.webhook._service",
        },
    )

__all__ = [
    "WebhookError",
    "WebhookSink",
    "WebhookSinkConfig",
    "encode_body",
    "idempotency_key",
]
