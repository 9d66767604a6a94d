"""Secrets in the configuration: ``${ENV}`` expansion, secret files, and redaction for logs.

Credentials reach the exporter three ways: literally in the file, as ``${NAME}`` references to
environment variables (expanded once, when the configuration is loaded), or as ``*_file``
paths (a mounted Kubernetes Secret, read at start and re-read whenever the file changes, so a
rotated Secret is picked up without a restart). Whatever the way, a URL printed in a log line,
an error message or a metric label goes through ``redact_url`` first, and headers are never
printed at all.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "ExpansionError",
    "SecretFile",
    "expand_env",
    "looks_secret",
    "redact_text",
    "redact_url",
    "url_has_secret",
]

log = logging.getLogger(__name__)

_MASK = "***"
# scheme://[userinfo@]host[:port][/path][?query][#fragment], split without validating, so a
# malformed URL is redacted as well as a good one.
_URL_START = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)?(.*)$", re.DOTALL)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
# Header and query parameter names that carry credentials, by convention.
_SECRET_NAME = re.compile(r"auth|token|key|secret|passw|cookie|session|signature|credential", re.I)


def redact_url(url: str) -> str:
    """``url`` with its userinfo and every query value replaced by ``***``.

    Scheme, host, port and path are kept (they say where, not who); a fragment is masked
    whole. Never raises, whatever the input.
    """
    match = _URL_START.match(url)
    assert match is not None  # the pattern matches every string
    scheme, rest = match.group(1) or "", match.group(2)
    rest, hash_, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    if scheme:
        slash = rest.find("/")
        authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
        if "@" in authority:
            authority = _MASK + "@" + authority.rpartition("@")[2]
        rest = authority + path
    if question:
        parts = []
        for part in query.split("&"):
            name, equals, _ = part.partition("=")
            parts.append(f"{name}={_MASK}" if equals else (_MASK if part else part))
        rest += "?" + "&".join(parts)
    if hash_:
        rest += "#" + (_MASK if fragment else "")
    return scheme + rest


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (for messages of third-party exceptions)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def looks_secret(name: str) -> bool:
    """Whether a header or query parameter name conventionally carries a credential."""
    return _SECRET_NAME.search(name) is not None


def url_has_secret(url: str) -> bool:
    """Whether ``url`` carries userinfo or a credential-like query parameter."""
    match = _URL_START.match(url)
    assert match is not None
    rest = match.group(2).partition("#")[0]
    rest, _, query = rest.partition("?")
    authority = rest.split("/", 1)[0] if match.group(1) else ""
    if "@" in authority:
        return True
    return any(looks_secret(part.partition("=")[0]) for part in query.split("&") if part)


class ExpansionError(ValueError):
    """A ``${NAME}`` reference that cannot be expanded; the message names the variable."""


_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def expand_env(value: str, environ: Mapping[str, str]) -> str:
    """Replace each ``${NAME}`` with the variable's value; ``$${`` is a literal ``${``.

    A variable that is unset or empty, a ``${`` without its ``}`` and a name that is not
    ``[A-Za-z_][A-Za-z0-9_]*`` raise ``ExpansionError``: a credential silently expanded to
    nothing would only show up later as a 401. A ``$`` not followed by ``{`` stays as it is.
    """

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name = match.group(1)
        if not match.group(0).endswith("}"):
            raise ExpansionError("'${' without a closing '}' (write '$${' for a literal '${')")
        if not _NAME.fullmatch(name):
            raise ExpansionError(f"${{{name}}} is not a variable name (letters, digits, _)")
        found = environ.get(name)
        if found is None:
            raise ExpansionError(f"environment variable {name} is not set")
        if not found:
            raise ExpansionError(f"environment variable {name} is empty")
        return found

    return _REFERENCE.sub(substitute, value)


class SecretFile:
    """A credential kept in a file (e.g. a mounted Secret), re-read when the file changes.

    ``read`` at start raises ``OSError`` / ``ValueError`` for a file that cannot serve; later,
    ``value`` looks at the file's identity (inode, size, mtime: kubelet swaps a symlink to
    rotate a Secret) and re-reads it only when that changed. A file that vanishes or empties
    for a moment keeps the last good value, with one warning (without the value) until it
    reads well again. Surrounding whitespace is stripped: a trailing newline is never sent.
    """

    def __init__(self, path: Path, field: str) -> None:
        self.path = path
        self.field = field
        self._value = ""
        self._identity: tuple[int, int, int] | None = None
        self._warned = False
        self._lock = threading.Lock()

    def _load(self) -> tuple[str, tuple[int, int, int]]:
        with self.path.open("rb") as handle:
            st = os.fstat(handle.fileno())
            raw = handle.read(65_536)
        text = raw.decode("utf-8").strip()
        if not text:
            raise ValueError("the file is empty")
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
            raise ValueError("the file holds control characters (a line break inside?)")
        return text, (st.st_ino, st.st_size, st.st_mtime_ns)

    def read(self) -> str:
        """Read now; raise ``OSError`` or ``ValueError`` (start-up: the config is wrong)."""
        with self._lock:
            self._value, self._identity = self._load()
            return self._value

    def value(self) -> str:
        """The current credential (a ``stat`` per call, a read only when the file changed)."""
        with self._lock:
            try:
                st = self.path.stat()
                if (st.st_ino, st.st_size, st.st_mtime_ns) != self._identity:
                    self._value, self._identity = self._load()
                if self._warned:
                    log.info("%s %s is readable again", self.field, self.path)
                    self._warned = False
            except (OSError, ValueError) as exc:
                if not self._warned:
                    log.warning(
                        "%s %s cannot be read (%s); still using the last value read",
                        self.field,
                        self.path,
                        getattr(exc, "strerror", None) or exc,
                    )
                    self._warned = True
            return self._value
