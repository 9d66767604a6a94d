"""Where the endpoints listen: the address forms, and real sockets on IPv4 and IPv6 loopback."""

from __future__ import annotations

import errno
import re
import socket

import aiohttp
import pytest

from kubevents.export import ConfigError, parse_listen
from kubevents.export._listen import listening_socket
from kubevents.export._metrics import ExportMetrics
from kubevents.export._server import HealthReport, serve


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:9090", ("127.0.0.1", 9090)),
        ("localhost:0", ("localhost", 0)),
        (":9090", ("", 9090)),
        ("[::]:9090", ("::", 9090)),
        ("[::1]:65535", ("::1", 65535)),
        ("[fe80::1%eth0]:80", ("fe80::1%eth0", 80)),
        ("exporter.monitoring.svc:9090", ("exporter.monitoring.svc", 9090)),
    ],
)
def test_the_address_forms(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("9090", "expected host:port"),
        ("host:", "expected host:port"),
        ("host:+80", "expected host:port"),
        ("host:٩٠", "expected host:port"),  # digits, but not ASCII ones
        ("host:123456", "expected host:port"),
        ("host:99999", "port 99999 is not in 0-65535"),
        ("::1:9090", "an IPv6 address takes brackets, e.g. [::1]:9090"),
        ("[::1:9090", "expected [ipv6]:port"),
        ("[127.0.0.1]:80", "not an IPv6 address: '127.0.0.1'"),
        ("[nothing]:80", "not an IPv6 address"),
        ("a b:80", "not a host name or IPv4 address: 'a b'"),
        ("user@host:80", "not a host name or IPv4 address"),
    ],
)
def test_what_is_refused_and_why(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_listen(value)


async def _status(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


def _healthy() -> HealthReport:
    return HealthReport(healthy=True, ready=True, problems=(), details={})


@needs_ipv6
async def test_every_address_is_both_families() -> None:
    # What a pod in a dual-stack or IPv6-only cluster needs: the kubelet probes its pod IP,
    # whichever family it is.
    server = await serve(ExportMetrics().registry, _healthy, ":0")
    try:
        assert server.port
        assert await _status(f"http://127.0.0.1:{server.port}/healthz") == 200
        assert await _status(f"http://[::1]:{server.port}/healthz") == 200
    finally:
        await server.stop()


@needs_ipv6
async def test_an_ipv6_address() -> None:
    server = await serve(ExportMetrics().registry, _healthy, "[::1]:0")
    try:
        assert await _status(f"http://[::1]:{server.port}/readyz") == 200
    finally:
        await server.stop()


async def test_a_named_ipv4_address_is_that_address_only() -> None:
    server = await serve(ExportMetrics().registry, _healthy, "127.0.0.1:0")
    try:
        assert await _status(f"http://127.0.0.1:{server.port}/healthz") == 200
        if _ipv6_loopback():
            with pytest.raises(aiohttp.ClientConnectionError):
                await _status(f"http://[::1]:{server.port}/healthz")
    finally:
        await server.stop()


async def test_a_port_in_use_is_a_config_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"listen: cannot serve on 127.0.0.1:{port}: "):
            await serve(ExportMetrics().registry, _healthy, f"127.0.0.1:{port}")


@pytest.fixture
def no_ipv6(monkeypatch: pytest.MonkeyPatch) -> None:
    # A kernel booted without IPv6 refuses the family itself; a real one cannot be made to on
    # demand, so the socket constructor answers as such a kernel does.
    real = socket.socket

    def without_ipv6(
        family: int = socket.AF_INET, *args: object, **kwargs: object
    ) -> socket.socket:
        if family == socket.AF_INET6:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
        return real(family, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "socket", without_ipv6)


@pytest.mark.usefixtures("no_ipv6")
async def test_every_address_without_ipv6_is_ipv4() -> None:
    sock = listening_socket("", 0)
    assert sock is not None
    try:
        assert sock.family == socket.AF_INET
        assert sock.getsockname()[0] == "0.0.0.0"
    finally:
        sock.close()
    server = await serve(ExportMetrics().registry, _healthy, ":0")
    try:
        assert await _status(f"http://127.0.0.1:{server.port}/healthz") == 200
    finally:
        await server.stop()


def test_a_busy_port_is_not_retried_on_the_other_family() -> None:
    # Only a missing IPv6 falls back to IPv4: a port someone else holds is an error.
    with (
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        if _ipv6_loopback()
        else (socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as held
    ):
        held.bind(("::" if held.family == socket.AF_INET6 else "0.0.0.0", 0))
        held.listen()
        with pytest.raises(OSError, match="in use") as caught:
            listening_socket("", held.getsockname()[1])
    assert caught.value.errno == errno.EADDRINUSE
