"""AWS Signature Version 4 for the search sink (Amazon OpenSearch Service and Serverless).

Requests are signed here with the published algorithm (canonical request, string to sign,
derived key); only the credentials come from botocore (the ``kubevents[aws]`` extra), imported
when SigV4 is configured, because botocore knows every way a pod gets them (IRSA web
identity, EKS pod identity, instance profiles, profiles, environment).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from kubevents.export.sinks._base import SinkError

__all__ = [
    "AwsCredentials",
    "AwsSigV4",
    "botocore_credentials",
    "canonical_query",
    "sigv4_authorization",
]


@dataclass(frozen=True)
class AwsCredentials:
    access_key: str
    secret_key: str
    token: str | None = None


@dataclass(frozen=True)
class AwsSigV4:
    """Sign requests for Amazon OpenSearch Service (``es``) or Serverless (``aoss``).

    ``credentials`` returns current credentials (called off the event loop, since refreshing
    may do I/O); by default botocore's provider chain, optionally for ``profile``.
    """

    region: str
    service: str = "es"
    profile: str | None = None
    credentials: Callable[[], AwsCredentials] | None = None


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def canonical_query(query: Mapping[str, str]) -> str:
    """``k=v&...`` sorted, every byte but RFC 3986 unreserved ones percent-encoded."""
    return "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )


def sigv4_authorization(
    *,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_sha256: str,
    credentials: AwsCredentials,
    region: str,
    service: str,
    amz_date: str,
) -> str:
    """The ``Authorization`` value of AWS Signature Version 4 for one request.

    ``path`` is the request path as sent (already percent-encoded); ``headers`` are exactly
    the headers to sign (``host`` and ``x-amz-date`` at least). Follows the published
    algorithm: canonical request, string to sign, derived key.
    """
    signed = sorted((k.lower(), " ".join(v.strip().split())) for k, v in headers.items())
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in signed)
    signed_headers = ";".join(k for k, _ in signed)
    canonical = "\n".join(
        [
            method.upper(),
            quote(path or "/", safe="/~"),
            canonical_query(query),
            canonical_headers,
            signed_headers,
            payload_sha256,
        ]
    )
    date = amz_date[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + credentials.secret_key).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


def botocore_credentials(profile: str | None) -> Callable[[], AwsCredentials]:
    try:
        import botocore.session  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise SinkError(
            "AWS SigV4 needs botocore: install kubevents with the aws extra "
            "(pip install 'kubevents[aws]')",
            reason="config",
        ) from None
    session = botocore.session.Session(profile=profile)
    found = session.get_credentials()
    if found is None:
        raise SinkError("AWS SigV4: botocore found no AWS credentials", reason="config")

    def current() -> AwsCredentials:
        # Refreshable credentials (IRSA, pod identity) renew themselves here when near expiry.
        frozen = found.get_frozen_credentials()
        return AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token)

    return current
