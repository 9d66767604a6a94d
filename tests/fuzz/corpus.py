"""Seeds: real-shaped Events in the bytes the API server sends, and the exporter's configs.

Every seed is valid input: the fuzzer's mutants start from what a real cluster produces (both
Event styles, managed fields, labels, a cluster-scoped object, odd but legal text), so the
mutations reach the code behind the decoders instead of dying at the first byte.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import msgspec

from export.factories import make_event
from kubevents.model import ManagedFieldsEntry, Time
from kubevents.model._wire import FieldsV1

__all__ = ["CONFIGS", "events", "list_pages", "status_bodies", "watch_lines"]

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def events() -> list[bytes]:
    """Event JSON exactly as the API server writes it."""
    made = [
        make_event(),
        make_event(count=7, first=NOW - timedelta(hours=2), last=NOW),
        make_event(series=True, count=3, first=NOW),
        make_event(series=True, count=1, first=NOW),
        make_event(
            kind="Node", object_name="node-1", object_namespace="", namespace="default",
            reason="NodeNotReady", message="Node node-1 status is now: NodeNotReady\nline 2",
            component="node-controller", first=NOW,
        ),
        make_event(
            kind="Deployment", object_name="web", reason="ScalingReplicaSet", type="Normal",
            message='Scaled "web" <to> 3 & more: ünïcødé \u2028', component="",
            reporting_controller="deployment-controller", field_path="spec.template",
        ),
    ]  # fmt: skip
    decorated = msgspec.structs.replace(
        made[1].metadata,
        labels={"app.kubernetes.io/name": "web", "team": "a"},
        annotations={"kubevents.io/x": "1", "note": "{}"},
        managed_fields=[
            ManagedFieldsEntry(
                manager="kubelet",
                operation="Update",
                api_version="v1",
                time=Time.of(NOW),
                fields_type="FieldsV1",
                fields_v1=FieldsV1(b'{"f:count":{},"f:message":{}}'),
            )
        ],
    )
    made.append(
        msgspec.structs.replace(made[1], metadata=decorated, kind="Event", api_version="v1")
    )
    return [event.to_json() for event in made]


def _line(kind: str, obj: bytes) -> bytes:
    return b'{"type":"%s","object":%s}' % (kind.encode(), obj)


def watch_lines() -> list[bytes]:
    """One notification per seed, as the server writes each line (without its newline)."""
    objects = events()
    status = {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "too old resource version: 1 (5)", "reason": "Expired", "code": 410,
    }  # fmt: skip
    bookmark = {
        "kind": "Event", "apiVersion": "v1",
        "metadata": {"resourceVersion": "4711", "annotations": {"k8s.io/initial-events-end": "1"}},
    }  # fmt: skip
    kinds = ["ADDED", "MODIFIED", "DELETED"] * 3
    return [
        *(_line(kind, obj) for kind, obj in zip(kinds, objects, strict=False)),
        _line("ERROR", json.dumps(status, separators=(",", ":")).encode()),
        _line("BOOKMARK", json.dumps(bookmark, separators=(",", ":")).encode()),
        # Another encoder's spacing takes the envelope path.
        b'{"type": "ADDED", "object": %s}' % objects[0],
    ]


def list_pages() -> list[bytes]:
    objects = events()
    return [
        b'{"kind":"EventList","apiVersion":"v1","metadata":{"resourceVersion":"4711",'
        b'"continue":"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ","remainingItemCount":12},"items":[%s]}'
        % b",".join(objects),
        b'{"kind":"EventList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[%s]}'
        % objects[2],
        b'{"kind":"EventList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[]}',
        json.dumps(
            {"kind": "EventList", "metadata": {}, "items": [json.loads(o) for o in objects[:3]]},
            indent=2,
        ).encode(),
    ]


def status_bodies() -> list[bytes]:
    def status(code: int, reason: str, message: str, **extra: object) -> bytes:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code, **extra}  # fmt: skip
        return json.dumps(body).encode()

    return [
        status(410, "Expired", "too old resource version"),
        status(422, "Invalid", "Event is invalid", details={
            "name": "x", "kind": "Event",
            "causes": [{"reason": "FieldValueInvalid", "message": "bad", "field": "count"}]}),
        status(403, "Forbidden", 'events is forbidden: User "x" cannot list'),
        status(409, "AlreadyExists", "exists", details={"causes": [{"reason": "x"}]}),
        b"<html><body>502 Bad Gateway</body></html>",
        b"",
    ]  # fmt: skip


CONFIGS: tuple[bytes, ...] = (
    b"",
    b"cluster_name: prod-eu-1\n",
    b"""cluster_name: prod-eu-1
namespace: null
page_size: 250
watch_timeout: 5m
state_ttl: 3h
checkpoint_interval: 2s
buffer: {queue_size: 4000, max_batch_size: 500, flush_delay: 1s, max_concurrency: 4}
sinks:
  - {type: sqlite, path: /var/lib/kubevents/events.db, retention_days: 30, synchronous: normal}
  - {type: jsonl, path: "-", max_bytes: 1048576, backups: 3}
  - {type: webhook, url: "https://hooks.example.com/k8s-events",
     headers: {Authorization: "Bearer x"}, format: jsonl, gzip: true, timeout: 10s}
  - {type: opensearch, hosts: ["https://search:9200"], index: kubevents, mode: daily,
     username: u, password: p, retention_days: 14, max_bulk_docs: 200}
  - {type: elasticsearch, name: es, hosts: ["http://es:9200"], mode: data_stream,
     api_key: k, product: elasticsearch, version: "8.14.1"}
dead_letter: /var/lib/kubevents/dead-letters.jsonl
rules:
  drop:
    - {name: system-noise, namespace: ["kube-system", "kube-*"], type: Normal}
    - {reason: "Pulled", message: "^Successfully pulled"}
  match:
    - {kind: [Pod, Node], source: kubelet}
field_selector: type=Warning,involvedObject.kind!=Node
label_selector: "app in (web, api),!legacy,tier=front"
listen: ":9090"
health: {stall_after: 15m, sink_failing_after: 5m}
time_window: {past: 30d, future: 1h}
shutdown_timeout: 25s
log_format: json
log_level: debug
""",
    b'{"cluster_name": "c", "sinks": [{"type": "sqlite"}], "buffer": {"flush_delay": 0.5}}',
)
