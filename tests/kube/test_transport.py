"""The transport against scripted aiohttp servers: what goes on the wire, TLS, 401, proxies.

The real apiserver side (token, exec plugin and client-certificate kubeconfigs) is in
test_kubeconfig_cluster.py; here a server can refuse a token, require a certificate or stand
in for a proxy on demand.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kubevents import __version__
from kubevents.errors import RequestConstructionError, StatusError, TransportError
from kubevents.kube import load_config
from kubevents.kube._transport import Transport
from kubevents_testenv import Pki, issue_client_cert

from .kubeconfig_support import Plugin, credential, exec_user, kubeconfig, write


@dataclass
class Seen:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes
    peer_cn: str | None = None


@dataclass
class Server:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    accept: set[str | None] = field(default_factory=set)  # Authorization values let in
    refuse_cn: set[str] = field(default_factory=set)  # client certificates refused with 401
    answer: web.Response | None = None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Start = Callable[..., Awaitable[Server]]


def _peer_cn(request: web.Request) -> str | None:
    transport = request.transport
    peer = transport.get_extra_info("peercert") if transport is not None else None
    if not peer:
        return None
    for rdn in peer["subject"]:
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


@pytest.fixture
async def serve() -> AsyncIterator[Start]:
    runners: list[web.AppRunner] = []

    async def start(
        tls: ssl.SSLContext | None = None, accept: set[str | None] | None = None
    ) -> Server:
        server = Server(accept=accept if accept is not None else {None})

        async def handle(request: web.Request) -> web.StreamResponse:
            server.seen.append(
                Seen(
                    request.method,
                    request.raw_path,
                    dict(request.headers),
                    await request.read(),
                    _peer_cn(request),
                )
            )
            refused = _peer_cn(request) in server.refuse_cn
            if refused or request.headers.get("Authorization") not in server.accept:
                return web.json_response(
                    {"kind": "Status", "code": 401, "reason": "Unauthorized", "message": "no"},
                    status=401,
                )
            return server.answer or web.json_response({"kind": "Thing"})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
        runners.append(runner)
        server.url = f"{'https' if tls else 'http'}://127.0.0.1:{runner.addresses[0][1]}"
        return server

    yield start
    for runner in runners:
        await runner.cleanup()


def server_tls(pki: Pki, *, require_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca)
    context.verify_mode = ssl.CERT_REQUIRED if require_cert else ssl.CERT_NONE
    return context


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


async def transport_for(tmp_path: Path, **parts: Any) -> Transport:
    return Transport(await load_config(write(tmp_path / "config", kubeconfig(**parts))))


async def test_headers_bodies_and_query_are_what_client_go_sends(
    serve: Start, tmp_path: Path
) -> None:
    server = await serve(accept={"Bearer t"})
    transport = await transport_for(tmp_path, cluster={"server": server.url}, user={"token": "t"})
    try:
        await transport.request(
            "POST",
            "/api/v1/namespaces/ns/events",
            query=[("labelSelector", "app=web,tier in (a b)"), ("limit", "5")],
            body={"metadata": {"name": "é"}, "count": 1},
        )
        await transport.request(
            "PATCH", "/p", body=b'{"count": 2}', content_type="application/merge-patch+json"
        )
        await transport.request("GET", "/version", accept="application/json;as=Table")
    finally:
        await transport.close()
    post, patch, get = server.seen
    assert post.path_qs == (
        "/api/v1/namespaces/ns/events?labelSelector=app%3Dweb%2Ctier%20in%20%28a%20b%29&limit=5"
    )
    assert post.body == '{"metadata":{"name":"é"},"count":1}'.encode()  # compact, UTF-8
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["Accept"] == "application/json"
    assert post.headers["User-Agent"] == f"kubevents/{__version__}"
    assert post.headers["Authorization"] == "Bearer t"
    assert patch.body == b'{"count": 2}'  # bytes go as they are
    assert patch.headers["Content-Type"] == "application/merge-patch+json"
    assert get.headers["Accept"] == "application/json;as=Table" and get.body == b""


async def test_errors_keep_their_classes(serve: Start, tmp_path: Path) -> None:
    server = await serve()
    transport = await transport_for(tmp_path, cluster={"server": server.url}, user={})
    try:
        server.answer = web.json_response(
            {"kind": "Status", "code": 404, "reason": "NotFound", "message": "events x"},
            status=404,
        )
        with pytest.raises(StatusError, match="404 NotFound: events x"):
            await transport.request("GET", "/x")
        server.answer = web.Response(status=502, text="bad gateway from a proxy")
        with pytest.raises(StatusError, match="bad gateway from a proxy") as info:
            await transport.request("GET", "/x")
        assert info.value.code == 502
        with pytest.raises(RequestConstructionError):
            await transport.request("POST", "/x", body={"a": object()})
    finally:
        await transport.close()
    refused = Transport(await load_config(url="http://127.0.0.1:1"))
    try:
        with pytest.raises(TransportError, match="GET /x"):
            await refused.request("GET", "/x")
    finally:
        await refused.close()


async def test_a_401_runs_the_exec_plugin_again_and_the_request_is_retried_once(
    serve: Start, tmp_path: Path
) -> None:
    plugin = Plugin(tmp_path / "plugin")
    plugin.answer(credential(token="revoked"), credential(token="fresh"))
    server = await serve(accept={"Bearer fresh"})
    transport = await transport_for(
        tmp_path, cluster={"server": server.url}, user=exec_user(str(plugin.path))
    )
    try:
        assert await transport.request("GET", "/api") == b'{"kind": "Thing"}'
        assert [s.headers["Authorization"] for s in server.seen] == [
            "Bearer revoked",
            "Bearer fresh",
        ]
        assert len(plugin.runs) == 2
        # A plugin that keeps printing a refused token: one retry, then the 401.
        server.accept = set()
        with pytest.raises(StatusError) as info:
            await transport.request("GET", "/api")
        assert info.value.code == 401
        assert len(server.seen) == 4 and len(plugin.runs) == 3
    finally:
        await transport.close()


async def test_a_401_with_a_fixed_token_is_not_retried(serve: Start, tmp_path: Path) -> None:
    server = await serve(accept=set())
    transport = await transport_for(tmp_path, cluster={"server": server.url}, user={"token": "t"})
    try:
        with pytest.raises(StatusError) as info:
            await transport.request("GET", "/api")
    finally:
        await transport.close()
    assert info.value.code == 401 and len(server.seen) == 1


async def test_an_expired_token_is_fetched_again_and_a_failing_refresh_is_a_transport_error(
    serve: Start, tmp_path: Path
) -> None:
    plugin = Plugin(tmp_path / "plugin")
    plugin.answer(
        credential(token="old", expires="2001-01-01T00:00:00Z"),
        credential(token="new", expires="2001-01-01T00:00:00Z"),
        {"stdout": "", "stderr": "the identity provider is down", "exit": 1},
    )
    server = await serve(accept={"Bearer new"})
    transport = await transport_for(
        tmp_path, cluster={"server": server.url}, user=exec_user(str(plugin.path))
    )
    try:
        await transport.request("GET", "/api")  # "old" had expired: "new" went out
        assert [s.headers["Authorization"] for s in server.seen] == ["Bearer new"]
        with pytest.raises(TransportError, match=r"exec: .*the identity provider is down"):
            await transport.request("GET", "/api")
    finally:
        await transport.close()


async def test_client_certificates_from_data_and_from_an_exec_plugin(
    serve: Start, tmp_path: Path, pki: Pki
) -> None:
    server = await serve(tls=server_tls(pki, require_cert=True))
    cluster = {"server": server.url, "certificate-authority-data": b64(pki.ca)}
    with_data = await transport_for(
        tmp_path,
        cluster=cluster,
        user={
            "client-certificate-data": b64(pki.client_cert),
            "client-key-data": b64(pki.client_key),
        },
    )
    without = await transport_for(tmp_path / "none", cluster=cluster, user={})
    plugin = Plugin(tmp_path / "plugin")
    other_cert, other_key = issue_client_cert(pki, "rotated", "kubevents-rotated")
    plugin.answer(
        credential(cert=pki.client_cert.read_text(), key=pki.client_key.read_text()),
        credential(cert=other_cert.read_text(), key=other_key.read_text()),
    )
    by_exec = await transport_for(
        tmp_path / "exec", cluster=cluster, user=exec_user(str(plugin.path))
    )
    try:
        await with_data.request("GET", "/api")
        with pytest.raises(TransportError):
            await without.request("GET", "/api")
        server.refuse_cn = {"kubevents-exporter"}  # the plugin's first certificate is revoked
        await by_exec.request("GET", "/api")
        await by_exec.request("GET", "/api")
    finally:
        for transport in (with_data, without, by_exec):
            await transport.close()
    # The refreshed certificate went out on a new connection (the pool is keyed by the TLS
    # context), and the refused one was not used again.
    assert [s.peer_cn for s in server.seen] == [
        "kubevents-exporter",
        "kubevents-exporter",
        "kubevents-rotated",
        "kubevents-rotated",
    ]
    assert len(plugin.runs) == 2  # at load, then after the 401


@pytest.mark.parametrize(("name", "ok"), [("localhost", True), ("wrong.example", False)])
async def test_tls_server_name_is_the_name_the_certificate_is_checked_against(
    serve: Start, tmp_path: Path, pki: Pki, name: str, ok: bool
) -> None:
    server = await serve(tls=server_tls(pki, require_cert=False))
    cluster = {"server": server.url, "certificate-authority": str(pki.ca), "tls-server-name": name}
    transport = await transport_for(tmp_path, cluster=cluster, user={})
    try:
        if ok:
            await transport.request("GET", "/api")
        else:
            with pytest.raises(TransportError, match=r"wrong\.example"):
                await transport.request("GET", "/api")
    finally:
        await transport.close()


async def test_insecure_skip_tls_verify_accepts_an_unknown_ca(
    serve: Start, tmp_path: Path, pki: Pki
) -> None:
    server = await serve(tls=server_tls(pki, require_cert=False))
    strict = await transport_for(tmp_path / "a", cluster={"server": server.url}, user={})
    lax = await transport_for(
        tmp_path / "b", cluster={"server": server.url, "insecure-skip-tls-verify": True}, user={}
    )
    try:
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
            await strict.request("GET", "/api")
        await lax.request("GET", "/api")
    finally:
        await strict.close()
        await lax.close()


async def test_proxy_url_sends_requests_through_the_proxy(serve: Start, tmp_path: Path) -> None:
    proxy = await serve()
    transport = await transport_for(
        tmp_path,
        cluster={"server": "http://kube.invalid:6443", "proxy-url": proxy.url},
        user={},
    )
    try:
        await transport.request("GET", "/api")
    finally:
        await transport.close()
    (seen,) = proxy.seen
    assert seen.headers["Host"] == "kube.invalid:6443"
