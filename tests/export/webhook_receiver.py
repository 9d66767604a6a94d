"""A real webhook receiver (aiohttp on a local port) for the exporter's end-to-end tests."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class Receiver:
    """Counts each delivered document id; can be taken down and brought back on the same port."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.documents: dict[str, dict[str, Any]] = {}  # the last delivery of each id
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    async def handle(self, request: web.Request) -> web.Response:
        for document in await request.json():
            self.ids[document["id"]] = self.ids.get(document["id"], 0) + 1
            self.documents[document["id"]] = document
        return web.Response(status=204)

    async def up(self) -> None:
        app = web.Application()
        app.router.add_post("/events", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def down(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
