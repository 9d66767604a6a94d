"""The errors every kubevents package shares: configuration, and the Kubernetes API's.

``ConfigError`` is the one configuration error: a cluster connection that cannot be configured
(``kubevents.kube``) and an invalid exporter config (``kubevents.export``) raise the same class,
with a message that names the field or source and the reason.

The API errors are shaped so the recorder's retry policy can switch on them. client-go decides
retries by the concrete error type: every ``StatusError`` (any code) is final, a
``RequestConstructionError`` is final, while an ``UnexpectedObjectError`` and any transport
error are retried. kubevents keeps the same classes.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "GoneError",
    "KubeError",
    "RequestConstructionError",
    "StatusError",
    "TransportError",
    "UnexpectedObjectError",
]


class ConfigError(Exception):
    """An invalid or unusable configuration; the message names the field or source and why."""


class KubeError(Exception):
    """Base of every error from talking to the Kubernetes API."""


class StatusError(KubeError):
    """The API server answered with a ``Status`` failure (HTTP status ``code``)."""

    def __init__(
        self,
        code: int,
        reason: str = "",
        message: str = "",
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}
        super().__init__(f"{code} {reason}: {message}" if reason else f"{code}: {message}")

    @property
    def causes(self) -> list[dict[str, Any]]:
        causes = self.details.get("causes")
        # The body came from the network: only well-formed causes count.
        if not isinstance(causes, list):
            return []
        return [cause for cause in causes if isinstance(cause, dict)]

    def has_cause(self, cause_type: str) -> bool:
        return any(cause.get("reason") == cause_type for cause in self.causes)

    @classmethod
    def from_status(cls, status: dict[str, Any], http_code: int = 0) -> StatusError:
        """Build from a ``metav1.Status`` object (as returned in a body or a watch ERROR).

        Never raises: the body came from the network. A ``code`` that is not a positive int32
        (``"abc"``, ``1.5``, ``true``) gives way to ``http_code``; a ``reason`` or ``message``
        that is not a string is left empty.
        """
        code = _status_code(status.get("code")) or _status_code(http_code)
        error_cls: type[StatusError] = GoneError if code == 410 else StatusError
        return error_cls(
            code,
            _text(status.get("reason")),
            _text(status.get("message")),
            details=status.get("details") if isinstance(status.get("details"), dict) else None,
        )


def _status_code(value: object) -> int:
    """``value`` if it is a usable ``Status.code`` (Go: int32), else 0."""
    if type(value) is not int or not 0 < value < 2**31:
        return 0
    return value


def _text(value: object) -> str:
    # Not str(value): the repr of a deeply nested value can itself raise RecursionError.
    return value if isinstance(value, str) else ""


class GoneError(StatusError):
    """410 Gone / Expired: the requested resourceVersion is older than etcd keeps; re-list."""


class RequestConstructionError(KubeError):
    """The request could not be built (bad arguments); retrying cannot help."""


class UnexpectedObjectError(KubeError):
    """The server answered with something that is not the expected object."""


class TransportError(KubeError):
    """The request did not complete: connection refused or reset, TLS failure, timeout."""
