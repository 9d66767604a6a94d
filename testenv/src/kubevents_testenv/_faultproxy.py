"""A TCP proxy on loopback in front of a real server, to make that server unreachable on demand.

    with LocalCluster() as cluster, FaultProxy.to(cluster.url) as proxy:
        client = await KubeClient.connect(url=proxy.url_for(cluster.url), token=..., ca_file=...)
        proxy.cut()       # as if the apiserver were stopped: connections refused, open ones reset
        proxy.restore()   # back, on the same port
        proxy.latency = 0.05  # a slow link: each answer from the server waits 50 ms

It forwards bytes and never looks at them, so TLS is end to end: the client verifies the
apiserver's own certificate (issued for 127.0.0.1, whatever the port). Stopping the real
apiserver would not do: a restarted ``LocalCluster`` is a fresh cluster on new ports. The proxy
runs its own event loop in a daemon thread, so that it behaves like a separate server whatever
the code under test does with its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from ._support import free_ports

__all__ = ["FaultProxy"]

_CHUNK = 64 * 1024


class FaultProxy:
    """Forwards every connection to ``target_host:target_port``, until ``cut``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.connections = 0
        """Connections accepted and forwarded so far."""
        self.latency = 0.0
        """Seconds each chunk of bytes from the server waits before it is passed on."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @classmethod
    def to(cls, url: str) -> FaultProxy:
        """A proxy for the host and port of ``url`` (``https://127.0.0.1:6443``)."""
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"FaultProxy needs a URL with a host and a port, not {url!r}")
        return cls(parts.hostname, parts.port)

    def url_for(self, url: str) -> str:
        """``url`` with its port replaced by the proxy's."""
        parts = urlsplit(url)
        return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{self.port}"))

    @property
    def is_cut(self) -> bool:
        return self._server is None

    # -- lifecycle (any thread but the proxy's) --------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("FaultProxy is already started")
        (self.port,) = free_ports(1)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="kubevents-fault-proxy", daemon=True
        )
        self._thread.start()
        self.restore()

    def cut(self) -> None:
        """Refuse new connections and reset the open ones. Idempotent."""
        self._call(self._cut())

    def restore(self) -> None:
        """Accept connections again, on the same port. Idempotent."""
        self._call(self._listen())

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._loop is None:
            coro.close()
            raise RuntimeError("FaultProxy is not started")
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    # -- on the proxy's loop ------------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.port, reuse_address=True
            )

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(
                _pipe(reader, up_writer), _pipe(up_reader, writer, lambda: self.latency)
            )
        finally:
            for end in (writer, up_writer):
                self._open.discard(end)
                end.transport.abort()


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    latency: Callable[[], float] = lambda: 0.0,
) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(_CHUNK):
            if (delay := latency()) > 0:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        if writer.can_write_eof():
            writer.write_eof()
