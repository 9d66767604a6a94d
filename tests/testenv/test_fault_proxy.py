"""``FaultProxy`` in front of the real apiserver: forwards TLS untouched, refuses and resets
while cut, forwards again on the same port once restored. Stdlib clients only, as the rest of
the harness."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest

from kubevents_testenv import FaultProxy, LocalCluster

pytestmark = pytest.mark.cluster


def version(cluster: LocalCluster, port: int) -> http.client.HTTPSConnection:
    """An open connection through ``port`` that has just read /version."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=cluster.ssl_context(), timeout=10)
    conn.request("GET", "/version", headers={"Authorization": f"Bearer {cluster.admin_token}"})
    response = conn.getresponse()
    assert response.status == 200
    assert "gitVersion" in json.loads(response.read())
    return conn


def ask_again(conn: http.client.HTTPSConnection) -> bytes:
    conn.request("GET", "/version")
    return conn.getresponse().read()


def test_cut_and_restore(local_cluster: LocalCluster) -> None:
    with FaultProxy.to(local_cluster.url) as proxy:
        assert proxy.url_for(local_cluster.url) == f"https://127.0.0.1:{proxy.port}"
        open_conn = version(local_cluster, proxy.port)
        assert proxy.connections == 1

        proxy.cut()
        assert proxy.is_cut
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        # The connection that was open is gone too.
        with pytest.raises((OSError, http.client.HTTPException)):
            ask_again(open_conn)
        open_conn.close()

        proxy.restore()
        version(local_cluster, proxy.port).close()
        assert proxy.connections == 2
    # Stopped: nothing listens any more.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=10)


def test_latency_holds_back_each_answer(local_cluster: LocalCluster) -> None:
    with FaultProxy.to(local_cluster.url) as proxy:
        conn = version(local_cluster, proxy.port)
        proxy.latency = 0.3
        began = time.monotonic()
        assert b"gitVersion" in ask_again(conn)
        assert time.monotonic() - began >= 0.3
        conn.close()


def test_needs_a_host_and_port() -> None:
    with pytest.raises(ValueError, match="host and a port"):
        FaultProxy.to("https://example.invalid")
