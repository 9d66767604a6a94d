"""The exporter's HTTP endpoints: ``/metrics``, ``/healthz`` and ``/readyz``.

Health is honest: ``/healthz`` fails when the watch is down or silently stalled (no event and
no successful re-watch within ``stall_after``) or a sink has been failing for longer than
``sink_failing_after``; ``/readyz`` additionally needs the initial list to have been exported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from kubevents.export._config import ConfigError
from kubevents.export._listen import listening_socket, parse_listen

__all__ = ["HealthReport", "MetricsServer", "serve"]


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    ready: bool
    problems: tuple[str, ...]
    details: dict[str, object]


class MetricsServer:
    """The endpoints on ``listen`` (``_listen.parse_listen``: already validated)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        health: Callable[[], HealthReport],
        listen: str,
    ) -> None:
        self._registry = registry
        self._health = health
        self._host, self._port = parse_listen(listen)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/livez", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = listening_socket(self._host, self._port)
        site: web.BaseSite
        if sock is None:
            site = web.TCPSite(self._runner, self._host, self._port)
        else:
            site = web.SockSite(self._runner, sock)
        try:
            await site.start()
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def _report(self, ok: bool, report: HealthReport) -> web.Response:
        return web.json_response(
            {
                "status": "ok" if ok else "unhealthy",
                "problems": list(report.problems),
                **report.details,
            },
            status=200 if ok else 503,
        )

    async def _healthz(self, request: web.Request) -> web.Response:
        report = self._health()
        return self._report(report.healthy, report)

    async def _readyz(self, request: web.Request) -> web.Response:
        report = self._health()
        return self._report(report.healthy and report.ready, report)


async def serve(
    registry: CollectorRegistry, health: Callable[[], HealthReport], listen: str
) -> MetricsServer:
    """The endpoints, serving on ``listen``; a ``ConfigError`` when that address cannot be had."""
    server = MetricsServer(registry, health, listen)
    try:
        await server.start()
    except OSError as exc:
        await server.stop()
        raise ConfigError(f"listen: cannot serve on {listen}: {exc.strerror or exc}") from None
    return server
