"""What the Elasticsearch / OpenSearch sink writes: engine facts, documents, templates, policies.

Pure functions only (no I/O), so every shape is testable and documented in one place
(``docs/sinks/elasticsearch.md`` shows them).

The document is the shared export document (``kubevents.export._document``) with ``time``
renamed to ``@timestamp`` and three additions: the Event's ``labels`` and ``annotations`` and
its ``related`` object. The involved object's ``enrichment`` (when the exporter enriches) is
mapped too: its workload as keywords, its labels and annotations like the Event's. The
server's Event JSON rides along as ``event``, stored but not indexed (``enabled: false``):
its managedFields and label keys would otherwise explode or conflict in the mapping.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from kubevents.export._document import (
    DocumentInvolvedObject,
    DocumentSeries,
    DocumentSource,
    document_series,
    document_times,
    embedded,
)
from kubevents.export._enrichment import Enrichment, Workload
from kubevents.export._occurrence import Occurrence

__all__ = [
    "SCHEMA_VERSION",
    "Engine",
    "SearchDocument",
    "dedot",
    "fingerprint",
    "flat_type_for",
    "ilm_policy",
    "index_template",
    "ism_policy",
    "parse_version",
    "search_document",
]

#: Bumped when a field changes meaning or type; stored in the template's ``_meta``.
SCHEMA_VERSION = 1

Product = Literal["elasticsearch", "opensearch"]
FlatType = Literal["flattened", "flat_object"]

# A label value is at most 63 characters, but annotation values are free text: values longer
# than this are cut in the indexed copy (the full text stays in ``event``), because a keyword
# term over 32 766 bytes makes Lucene reject the whole document.
MAX_MAP_VALUE_CHARS = 4096
_KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
_DATE: dict[str, Any] = {"type": "date"}
_LONG: dict[str, Any] = {"type": "long"}


@dataclass(frozen=True)
class Engine:
    """What a cluster is and can do, as detected at start."""

    product: Product
    version: tuple[int, int, int]
    #: The type that indexes label maps whose keys contain dots; None: de-dot instead.
    flat_type: FlatType | None
    #: ``ilm`` (Elasticsearch), ``ism`` (OpenSearch) or None when the cluster has neither.
    lifecycle: Literal["ilm", "ism"] | None
    data_streams: bool

    @property
    def number(self) -> str:
        return ".".join(map(str, self.version))

    def __str__(self) -> str:
        return f"{self.product} {self.number}"


_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int]:
    match = _VERSION.match(text.strip())
    if match is None:
        raise ValueError(f"not a version: {text!r}")
    major, minor, patch = (int(g) if g else 0 for g in match.groups())
    return major, minor, patch


def flat_type_for(
    product: Product, version: tuple[int, int, int], xpack_flattened: bool
) -> FlatType | None:
    if product == "opensearch":
        return "flat_object" if version >= (2, 7, 0) else None
    # From 8.0 every distribution has flattened; 7.x has it only with x-pack (not OSS builds).
    return "flattened" if version >= (8, 0, 0) or xpack_flattened else None


class SearchEnrichment(msgspec.Struct, omit_defaults=True, gc=False):
    """``enrichment`` as indexed: the export document's, its maps cut and (maybe) de-dotted."""

    status: str
    reason: str = ""
    workload: Workload | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


# Built positionally, in field order: a Struct takes keyword arguments at about ten times the
# cost, and one is built per occurrence. Positional needs every field required, so the keys
# that may be absent hold UNSET, which the encoder leaves out, instead of a None default.
class SearchDocument(msgspec.Struct, gc=False):
    """One occurrence as stored in Elasticsearch / OpenSearch (``_id`` is ``id``)."""

    timestamp: str = msgspec.field(name="@timestamp")
    id: str
    uid: str
    count: int
    cluster: str
    namespace: str
    name: str
    involvedObject: DocumentInvolvedObject  # noqa: N815 - the JSON key is the field name
    related: DocumentInvolvedObject | UnsetType
    type: str
    reason: str
    message: str
    source: DocumentSource
    reportingController: str  # noqa: N815
    reportingInstance: str  # noqa: N815
    action: str
    firstTimestamp: str | None  # noqa: N815
    lastTimestamp: str | None  # noqa: N815
    eventTime: str | None  # noqa: N815
    series: DocumentSeries | UnsetType
    resourceVersion: str  # noqa: N815
    labels: dict[str, str] | UnsetType
    annotations: dict[str, str] | UnsetType
    enrichment: SearchEnrichment | UnsetType
    event: msgspec.Raw


def dedot(mapping: dict[str, str]) -> dict[str, str]:
    """``app.kubernetes.io/name`` -> ``app_kubernetes_io/name``: no key can become an object."""
    return {key.replace(".", "_"): value for key, value in mapping.items()}


def _indexed_map(mapping: dict[str, str] | None, flat: bool) -> dict[str, str] | UnsetType:
    if not mapping:
        return UNSET
    cut = {
        k: v if len(v) <= MAX_MAP_VALUE_CHARS else v[:MAX_MAP_VALUE_CHARS]
        for k, v in mapping.items()
    }
    return cut if flat else dedot(cut)


def _enrichment(found: Enrichment | None, flat: bool) -> SearchEnrichment | UnsetType:
    if found is None:
        return UNSET
    labels, annotations = _indexed_map(found.labels, flat), _indexed_map(found.annotations, flat)
    return SearchEnrichment(
        found.status, found.reason, found.workload,
        None if labels is UNSET else labels, None if annotations is UNSET else annotations,
    )  # fmt: skip


def search_document(occ: Occurrence, *, flat_maps: bool) -> SearchDocument:
    """The stored document of ``occ``; ``flat_maps=False`` de-dots label/annotation keys."""
    # Built straight from the occurrence, with the export document's helpers, rather than
    # from an ExportDocument: one struct per occurrence instead of two.
    event = occ.event
    meta = event.metadata
    time_text, first_text, last_text, at_text = document_times(occ)
    series = document_series(event.series, occ.time, time_text)
    return SearchDocument(
        time_text,
        occ.id,
        occ.uid,
        occ.count,
        occ.cluster,
        meta.namespace,
        meta.name,
        event.involved_object,
        UNSET if event.related is None else event.related,
        event.type,
        event.reason,
        event.message,
        event.source,
        event.reporting_controller,
        event.reporting_instance,
        event.action,
        first_text,
        last_text,
        at_text,
        UNSET if series is None else series,
        occ.resource_version,
        _indexed_map(meta.labels, flat_maps),
        _indexed_map(meta.annotations, flat_maps),
        _enrichment(occ.enrichment, flat_maps),
        embedded(occ.raw),
    )


def _object(*names: str) -> dict[str, Any]:
    return {"properties": {name: _KEYWORD for name in names}}


def mappings(flat_type: FlatType | None) -> dict[str, Any]:
    """The mapping: every documented field explicit, nothing else indexed."""
    reference = _object("kind", "namespace", "name", "uid", "apiVersion", "fieldPath")
    if flat_type == "flattened":
        label_map: dict[str, Any] = {"type": "flattened", "ignore_above": 1024}
    elif flat_type == "flat_object":
        label_map = {"type": "flat_object"}
    else:
        label_map = {"type": "object", "dynamic": True}
    properties: dict[str, Any] = {
        "@timestamp": _DATE, "id": _KEYWORD, "uid": _KEYWORD, "count": _LONG,
        "cluster": _KEYWORD, "namespace": _KEYWORD, "name": _KEYWORD,
        "involvedObject": reference, "related": reference, "type": _KEYWORD,
        "reason": _KEYWORD,
        "message": {"type": "text", "fields": {"keyword": _KEYWORD}},
        "source": _object("component", "host"), "reportingController": _KEYWORD,
        "reportingInstance": _KEYWORD, "action": _KEYWORD, "firstTimestamp": _DATE,
        "lastTimestamp": _DATE, "eventTime": _DATE,
        "series": {"properties": {"count": _LONG, "lastObservedTime": _DATE}},
        "resourceVersion": _KEYWORD, "labels": label_map, "annotations": label_map,
        "enrichment": {"properties": {
            "status": _KEYWORD, "reason": _KEYWORD, "workload": _object("kind", "name"),
            "labels": label_map, "annotations": label_map,
        }},
        "event": {"type": "object", "enabled": False},
    }  # fmt: skip
    result: dict[str, Any] = {
        # Fields added later (or by hand) stay in _source without touching the mapping.
        "dynamic": False,
        "properties": properties,
    }
    if flat_type is None:
        # De-dotted keys are new fields under labels/annotations: strings become keywords.
        result["dynamic_templates"] = [
            {
                f"kubevents_{name.replace('.', '_')}": {
                    "path_match": f"{name}.*",
                    "match_mapping_type": "string",
                    "mapping": _KEYWORD,
                }
            }
            for name in ("labels", "annotations", "enrichment.labels", "enrichment.annotations")
        ]
    return result


def fingerprint(body: Any) -> str:
    """A short stable hash of a JSON body: equal bodies, equal fingerprints."""
    canonical = msgspec.json.encode(body, order="sorted")
    return hashlib.sha256(canonical).hexdigest()[:16]


def index_template(
    *,
    patterns: list[str],
    data_stream: bool,
    flat_type: FlatType | None,
    shards: int,
    replicas: int | None,
    priority: int,
    ilm_policy: str | None,
) -> dict[str, Any]:
    """A composable index template (ES >= 7.8, OpenSearch >= 1.0), fingerprinted in _meta."""
    settings: dict[str, Any] = {"index": {"number_of_shards": shards}}
    if replicas is not None:
        settings["index"]["number_of_replicas"] = replicas
    if ilm_policy is not None:
        settings["index"]["lifecycle"] = {"name": ilm_policy}
    body: dict[str, Any] = {
        "index_patterns": patterns,
        "priority": priority,
        "template": {"settings": settings, "mappings": mappings(flat_type)},
    }
    if data_stream:
        body["data_stream"] = {}
    body["_meta"] = {
        "managed_by": "kubevents",
        "kubevents_schema": SCHEMA_VERSION,
        "fingerprint": fingerprint(body),
    }
    return body


def ilm_policy(
    *, retention_days: float, rollover: bool, version: tuple[int, int, int]
) -> dict[str, Any]:
    """Elasticsearch ILM: (roll over daily,) delete ``retention_days`` after."""
    hot: dict[str, Any] = {"min_age": "0ms", "actions": {}}
    if rollover:
        size_key = "max_primary_shard_size" if version >= (7, 13, 0) else "max_size"
        hot["actions"]["rollover"] = {"max_age": "1d", size_key: "50gb"}
    phases = {
        "hot": hot,
        "delete": {"min_age": f"{_minutes(retention_days)}m", "actions": {"delete": {}}},
    }
    policy: dict[str, Any] = {"phases": phases}
    if version >= (7, 14, 0):  # _meta on ILM policies appeared in 7.14
        policy["_meta"] = {"managed_by": "kubevents", "fingerprint": fingerprint(phases)}
    return {"policy": policy}


def ism_policy(*, retention_days: float, rollover: bool, patterns: list[str]) -> dict[str, Any]:
    """OpenSearch ISM: (roll over daily,) delete ``retention_days`` after creation."""
    hot_actions: list[dict[str, Any]] = []
    if rollover:
        hot_actions.append({"rollover": {"min_index_age": "1d", "min_size": "50gb"}})
    states = [
        {
            "name": "hot",
            "actions": hot_actions,
            "transitions": [
                {
                    "state_name": "delete",
                    "conditions": {"min_index_age": f"{_minutes(retention_days)}m"},
                }
            ],
        },
        {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
    ]
    template = [{"index_patterns": patterns, "priority": 100}]
    # ISM has no _meta: the fingerprint rides in the description.
    digest = fingerprint({"states": states, "ism_template": template})
    return {
        "policy": {
            "description": (f"kubevents: delete events after {retention_days:g} days [{digest}]"),
            "default_state": "hot",
            "states": states,
            "ism_template": template,
        }
    }


def _minutes(days: float) -> int:
    # Minutes, so fractional retention (tests, short-lived clusters) is exact enough.
    return max(1, round(days * 24 * 60))
