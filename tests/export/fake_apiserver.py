"""A small scripted Kubernetes API for fault injection a real server cannot do on demand.

It serves core/v1 Event LIST (paged, with continue) from ``objects`` and answers each WATCH
request with the next script: lines to stream, then close (or hold the stream open).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from kubevents.kube import KubeClient


def event_object(uid: str, count: int, rv: int, *, namespace: str = "ns") -> dict[str, Any]:
    return {
        "kind": "Event", "apiVersion": "v1",
        "metadata": {"name": f"{uid}.ev", "namespace": namespace, "uid": uid,
                     "resourceVersion": str(rv)},
        "involvedObject": {"kind": "Pod", "namespace": namespace, "name": f"pod-{uid}"},
        "reason": "BackOff", "message": f"{uid} #{count}", "source": {"component": "kubelet"},
        "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:10Z",
        "count": count, "type": "Warning", "eventTime": None,
        "reportingComponent": "", "reportingInstance": "",
    }  # fmt: skip


def line(kind: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def gone() -> bytes:
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
              "reason": "Expired", "message": "too old resource version"}  # fmt: skip
    return line("ERROR", status)


@dataclass
class WatchScript:
    lines: list[bytes] = field(default_factory=list)
    hold: bool = False  # keep the stream open after the lines (until the server stops)
    http_status: int = 200  # non-200: answer the watch request with this status instead


@dataclass
class FakeAPIServer:
    objects: list[dict[str, Any]] = field(default_factory=list)
    list_rv: int = 1
    watches: list[WatchScript] = field(default_factory=list)
    raw_list_items: list[bytes] = field(default_factory=list)  # extra, possibly malformed
    # Successive states for successive LISTs: (objects, resourceVersion), popped per new list.
    list_states: list[tuple[list[dict[str, Any]], int]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        kind = "watch" if query.get("watch") else "list"
        self.requests.append((kind, query))
        if kind == "list":
            return self._list(query)
        script = self.watches.pop(0) if self.watches else WatchScript(hold=True)
        if script.http_status != 200:
            body = {"kind": "Status", "code": script.http_status, "reason": "InternalError",
                    "message": "injected"}  # fmt: skip
            return web.json_response(body, status=script.http_status)
        response = web.StreamResponse()
        response.content_type = "application/json"
        await response.prepare(request)
        for chunk in script.lines:
            await response.write(chunk)
        if script.hold:
            await self._release.wait()
        # The client may already have gone (test teardown); that is not a server error.
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    def _list(self, query: dict[str, str]) -> web.Response:
        limit = int(query.get("limit", "0") or 0) or len(self.objects) or 1
        start = int(query.get("continue", "0") or 0)
        if start == 0 and self.list_states:
            self.objects, self.list_rv = self.list_states.pop(0)
        page = self.objects[start : start + limit]
        more = start + limit < len(self.objects)
        items = [json.dumps(o) for o in page]
        if start == 0:
            items += [raw.decode() for raw in self.raw_list_items]
        meta = {"resourceVersion": str(self.list_rv)}
        if more:
            meta["continue"] = str(start + limit)
        body = (
            f'{{"kind":"EventList","apiVersion":"v1","metadata":{json.dumps(meta)},'
            f'"items":[{",".join(items)}]}}'
        )
        return web.Response(body=body.encode(), content_type="application/json")

    def release(self) -> None:
        self._release.set()

    def list_calls(self) -> int:
        return sum(1 for kind, q in self.requests if kind == "list" and not q.get("continue"))


async def serve(api: FakeAPIServer) -> AsyncIterator[KubeClient]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", api.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = await KubeClient.connect(url=f"http://127.0.0.1:{port}", token="t")
    try:
        yield client
    finally:
        api.release()
        await client.close()
        await runner.cleanup()
