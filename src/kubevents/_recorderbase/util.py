"""client-go's ``tools/record/util``, which both recorders use: event names, types, not-found.

``NAMESPACE_DEFAULT`` is ``metav1.NamespaceDefault``: events about cluster-scoped objects are
stored there, because the API server only accepts them in "default" (or "kube-system").
"""

from __future__ import annotations

import functools
import re
import uuid

from kubevents._recorderbase.gocompat import go_hex
from kubevents.errors import StatusError
from kubevents.model import EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING

__all__ = [
    "DNS1123_SUBDOMAIN_MAX_LENGTH",
    "NAMESPACE_DEFAULT",
    "generate_event_name",
    "is_key_not_found_error",
    "validate_event_type",
]

# apimachinery pkg/util/validation: IsDNS1123Subdomain.
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
# fullmatch, not "$": Python's "$" would also accept a trailing newline, Go's does not.
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*", re.ASCII)

_HTTP_NOT_FOUND = 404

NAMESPACE_DEFAULT = "default"


def validate_event_type(event_type: str) -> bool:
    """True only for exactly ``"Normal"`` or ``"Warning"`` (case-sensitive)."""
    return event_type in (EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING)


def is_key_not_found_error(err: BaseException | None) -> bool:
    """True for a ``StatusError`` whose code is 404.

    Like client-go this looks at the error itself only: the reason is ignored and an exception
    that merely wraps (``raise ... from``) a 404 ``StatusError`` is not a not-found error.
    """
    return isinstance(err, StatusError) and err.code == _HTTP_NOT_FOUND


def generate_event_name(ref_name: str, unix_nano: int) -> str:
    """``ref_name + "." + hex(unix_nano)``, or a random UUID if that is not a DNS-1123 subdomain.

    The fallback exists because the referenced object's name need not be a valid Event name
    (kubernetes issue 127594).
    """
    hex_part = go_hex(unix_nano)
    name = f"{ref_name}.{hex_part}"
    if len(name) > DNS1123_SUBDOMAIN_MAX_LENGTH or not (
        # A non-negative hex number is a valid label, so the name is a subdomain exactly when
        # ref_name is one; that answer is cached (event() pays for the regex once per object).
        _is_dns1123_subdomain(ref_name)
        if hex_part[0] != "-"
        else _DNS1123_SUBDOMAIN_RE.fullmatch(name)
    ):
        name = str(uuid.uuid4())
    return name


@functools.lru_cache(maxsize=4096)
def _is_dns1123_subdomain(name: str) -> bool:
    return _DNS1123_SUBDOMAIN_RE.fullmatch(name) is not None
