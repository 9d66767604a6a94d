"""Where the endpoints listen: ``HOST:PORT``, ``[IPV6]:PORT``, or ``:PORT`` for every address.

``:PORT`` is what a pod needs: the kubelet's probes and Prometheus reach the pod's own
address, which is IPv4, IPv6 or both depending on the cluster. As Go's ``net.Listen(":port")``
does, it is one dual-stack IPv6 socket (IPv4 clients arrive as mapped addresses), or an IPv4
socket where the pod has no IPv6 at all (the kernel booted without it, or
``disable_ipv6`` set): never an error for a family the cluster does not use.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import socket

__all__ = ["ANY_ADDRESS", "listening_socket", "parse_listen"]

ANY_ADDRESS = ""  # the host of ``:PORT``
_HOST = re.compile(r"[A-Za-z0-9.\-]*")
# The IPv6 socket cannot exist or cannot bind ``::``: IPv6 is off in this network namespace.
_NO_IPV6 = (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT)


def parse_listen(value: str) -> tuple[str, int]:
    """``(host, port)`` of ``value``; ``ValueError`` saying what is wrong.

    ``host`` is ``ANY_ADDRESS`` for ``:PORT`` and has no brackets for ``[IPV6]:PORT``.
    """
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        raise ValueError(f"expected host:port, [ipv6]:port or :port, got {value!r}")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"port {port} is not in 0-65535")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"expected [ipv6]:port, got {value!r}")
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"not an IPv6 address: {host!r}") from None
    elif ":" in host:
        raise ValueError(f"an IPv6 address takes brackets, e.g. [::1]:{port}, got {value!r}")
    elif not _HOST.fullmatch(host):
        raise ValueError(f"not a host name or IPv4 address: {host!r}")
    return host, port


def listening_socket(host: str, port: int) -> socket.socket | None:
    """A bound socket for ``ANY_ADDRESS``; None for a named host (the server resolves it)."""
    if host != ANY_ADDRESS:
        return None
    if socket.has_ipv6:
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        except OSError as exc:
            if exc.errno not in _NO_IPV6:
                raise
        else:
            try:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("::", port))
            except OSError as exc:
                sock.close()
                if exc.errno not in _NO_IPV6:
                    raise
            else:
                return sock
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
    except OSError:
        sock.close()
        raise
    return sock
