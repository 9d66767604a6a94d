"""Enrichment without a cluster: the owner-chain walk, the misses, what is kept, the config.

The caches are filled here with the metadata the API server would list (``ObjectMetadata``);
``test_enrich_cluster.py`` fills them from a real apiserver.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from kubevents.export import ConfigError, ExportMetrics, load_export_config
from kubevents.export._access import required_permissions
from kubevents.export._document import encode_document
from kubevents.export._enrich import Changes, Enricher, EnrichMetrics, ObjectCache
from kubevents.export._enrichconfig import KINDS, EnrichConfig
from kubevents.export._enrichment import Enrichment, Workload
from kubevents.export._fields import DocumentInvolvedObject
from kubevents.export._spoolpayload import decode_occurrence, encode_occurrence
from kubevents.kube import ObjectMetadata, OwnerReference

from .factories import make_occurrence

API = {"Pod": "v1", "Node": "v1", "CronJob": "batch/v1", "Job": "batch/v1"}


def api_version(kind: str) -> str:
    return API.get(kind, "apps/v1")


def meta(
    kind: str,
    name: str,
    owner: tuple[str, str] | None = None,
    *,
    namespace: str = "shop",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    controller: bool = True,
) -> ObjectMetadata:
    refs = None
    if owner is not None:
        refs = [
            OwnerReference(
                api_version(owner[0]), owner[0], owner[1], f"uid-{owner[0]}-{owner[1]}", controller
            )
        ]
    return ObjectMetadata(
        name=name, namespace=namespace, uid=f"uid-{kind}-{name}", resource_version="1",
        labels=labels, annotations=annotations, owner_references=refs,
    )  # fmt: skip


def enricher(
    kinds: list[str], objects: list[tuple[str, ObjectMetadata]], **keys: list[str]
) -> tuple[Enricher, EnrichMetrics]:
    changes = Changes()
    caches = {
        k: ObjectCache(
            KINDS[k], tuple(keys.get("labels", ())), tuple(keys.get("annotations", ())), changes
        )
        for k in kinds
    }
    for kind, m in objects:
        caches[kind].put(m)
    for cache in caches.values():
        cache.synced = True
    metrics = EnrichMetrics(ExportMetrics(CollectorRegistry()))
    return Enricher(caches, metrics), metrics


def ref(
    kind: str, name: str, *, namespace: str = "shop", uid: str | None = None
) -> DocumentInvolvedObject:
    return DocumentInvolvedObject(
        kind=kind, namespace=namespace, name=name,
        uid=f"uid-{kind}-{name}" if uid is None else uid, api_version=api_version(kind),
    )  # fmt: skip


DEPLOYMENT_CHAIN = [
    ("Deployment", meta("Deployment", "web")),
    ("ReplicaSet", meta("ReplicaSet", "web-5d8f", ("Deployment", "web"))),
    ("Pod", meta("Pod", "web-5d8f-x1", ("ReplicaSet", "web-5d8f"), labels={"app": "web"})),
]


@pytest.mark.parametrize(
    ("objects", "pod", "workload"),
    [
        (DEPLOYMENT_CHAIN, "web-5d8f-x1", Workload("Deployment", "web")),
        (
            [
                ("CronJob", meta("CronJob", "backup")),
                ("Job", meta("Job", "backup-2900", ("CronJob", "backup"))),
                ("Pod", meta("Pod", "backup-2900-q", ("Job", "backup-2900"))),
            ],
            "backup-2900-q",
            Workload("CronJob", "backup"),
        ),
        (
            [
                ("StatefulSet", meta("StatefulSet", "db")),
                ("Pod", meta("Pod", "db-0", ("StatefulSet", "db"))),
            ],
            "db-0",
            Workload("StatefulSet", "db"),
        ),
        (
            [
                ("DaemonSet", meta("DaemonSet", "agent")),
                ("Pod", meta("Pod", "agent-x", ("DaemonSet", "agent"))),
            ],
            "agent-x",
            Workload("DaemonSet", "agent"),
        ),
        # A bare Pod is its own workload.
        ([("Pod", meta("Pod", "debug"))], "debug", Workload("Pod", "debug")),
        # An owner reference that is not the controller is no workload.
        (
            [("Pod", meta("Pod", "p", ("ReplicaSet", "rs"), controller=False))],
            "p",
            Workload("Pod", "p"),
        ),
    ],
)
def test_the_owner_chain_is_walked_to_its_top(
    objects: list[tuple[str, ObjectMetadata]], pod: str, workload: Workload
) -> None:
    kinds = sorted({k for k, _ in objects} | {"Pod"})
    enrich, _metrics = enricher(kinds, objects)
    found = enrich.resolve(ref("Pod", pod))
    assert (found.status, found.workload) == ("hit", workload)


def test_a_kind_not_cached_ends_the_walk_with_the_name_its_reference_gives() -> None:
    # Deployments not cached: the ReplicaSet's controller reference still names it.
    enrich, _ = enricher(["Pod", "ReplicaSet"], DEPLOYMENT_CHAIN[1:])
    assert enrich.resolve(ref("Pod", "web-5d8f-x1")).workload == Workload("Deployment", "web")
    # ReplicaSets not cached either: the Pod's reference names the ReplicaSet, no further.
    enrich, _ = enricher(["Pod"], DEPLOYMENT_CHAIN[2:])
    assert enrich.resolve(ref("Pod", "web-5d8f-x1")).workload == Workload("ReplicaSet", "web-5d8f")


def test_an_owner_gone_or_replaced_ends_the_walk_below_it() -> None:
    replaced = msgspec.structs.replace(DEPLOYMENT_CHAIN[1][1], uid="uid-another-rs")
    objects = [DEPLOYMENT_CHAIN[0], ("ReplicaSet", replaced), *DEPLOYMENT_CHAIN[2:]]
    enrich, _ = enricher(["Pod", "ReplicaSet", "Deployment"], objects)
    assert enrich.resolve(ref("Pod", "web-5d8f-x1")).workload == Workload("ReplicaSet", "web-5d8f")


def test_a_reference_loop_ends() -> None:
    a = meta("ReplicaSet", "a", ("ReplicaSet", "b"))
    b = meta("ReplicaSet", "b", ("ReplicaSet", "a"))
    enrich, _ = enricher(["ReplicaSet"], [("ReplicaSet", a), ("ReplicaSet", b)])
    assert enrich.resolve(ref("ReplicaSet", "a")).status == "hit"


@pytest.mark.parametrize(
    ("involved", "synced", "reason"),
    [
        (ref("Pod", "web-gone"), True, "gone"),
        (ref("Pod", "web-5d8f-x1", uid="uid-of-an-earlier-pod"), True, "gone"),
        (ref("Pod", "web-gone"), False, "not_synced"),
        (ref("Service", "web"), True, "kind_not_cached"),
        # Same kind name, another API group: not what the cache holds.
        (
            DocumentInvolvedObject(
                kind="Deployment",
                namespace="shop",
                name="web",
                uid="uid-Deployment-web",
                api_version="example.com/v1",
            ),
            True,
            "kind_not_cached",
        ),
    ],
)
def test_misses_say_why_and_are_counted(
    involved: DocumentInvolvedObject, synced: bool, reason: str
) -> None:
    enrich, metrics = enricher(["Pod", "ReplicaSet", "Deployment"], DEPLOYMENT_CHAIN)
    for cache in enrich._caches.values():
        cache.synced = synced
    event = make_occurrence(kind=involved.kind, object_name=involved.name)
    occurrence = enrich(msgspec.structs.replace(event, event=msgspec.structs.replace(
        event.event, involved_object=involved)))  # fmt: skip
    assert occurrence.enrichment == Enrichment("miss", reason)
    assert metrics.outcomes.misses[reason] == 1
    assert metrics.outcomes.hits == 0
    exposition = generate_latest(metrics.registry).decode()
    assert f'kubevents_enrichment_misses_total{{reason="{reason}"}} 1.0' in exposition
    assert "kubevents_enrichment_hits_total 0.0" in exposition


def test_a_reference_without_api_version_is_taken_at_its_kind() -> None:
    enrich, _ = enricher(["Pod", "ReplicaSet", "Deployment"], DEPLOYMENT_CHAIN)
    bare = msgspec.structs.replace(ref("Deployment", "web"), api_version="")
    assert enrich.resolve(bare).workload == Workload("Deployment", "web")


def test_a_node_named_by_its_name_as_uid_is_found() -> None:
    node = meta("Node", "node-1", namespace="", labels={"topology.kubernetes.io/zone": "a"})
    enrich, _ = enricher(["Node"], [("Node", node)], labels=["topology.kubernetes.io/zone"])
    found = enrich.resolve(ref("Node", "node-1", namespace="", uid="node-1"))
    assert found == Enrichment(
        "hit", "", Workload("Node", "node-1"), {"topology.kubernetes.io/zone": "a"}
    )


def test_only_the_selected_labels_and_annotations_are_kept() -> None:
    pod = meta(
        "Pod", "p", labels={"app": "web", "pod-template-hash": "5d8f", "tier": "front"},
        annotations={"team": "shop", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
    )  # fmt: skip
    enrich, _ = enricher(
        ["Pod"], [("Pod", pod)], labels=["app", "tier", "absent"], annotations=["team"]
    )
    cached = enrich._caches["Pod"].get("shop", "p")
    assert cached is not None and cached.labels == ("app", "web", "tier", "front")
    found = enrich.resolve(ref("Pod", "p"))
    assert (found.labels, found.annotations) == ({"app": "web", "tier": "front"}, {"team": "shop"})


def test_a_delete_of_an_older_object_keeps_its_successor() -> None:
    cache = ObjectCache(KINDS["Pod"], (), ())
    cache.put(meta("Pod", "db-0"))
    successor = msgspec.structs.replace(meta("Pod", "db-0"), uid="uid-new")
    cache.put(successor)
    cache.remove(meta("Pod", "db-0"))  # the old one's DELETED arrives late
    assert cache.get("shop", "db-0") is not None
    cache.remove(successor)
    assert cache.get("shop", "db-0") is None


def test_the_enrichment_travels_through_the_spool_and_into_the_document() -> None:
    plain = make_occurrence(kind="Pod", object_name="web-5d8f-x1")
    pod = msgspec.structs.replace(DEPLOYMENT_CHAIN[2][1], uid=plain.event.involved_object.uid)
    enrich, _ = enricher(
        ["Pod", "ReplicaSet", "Deployment"], [*DEPLOYMENT_CHAIN[:2], ("Pod", pod)], labels=["app"]
    )
    occurrence = enrich(plain)
    assert occurrence.enrichment == Enrichment(
        "hit", "", Workload("Deployment", "web"), {"app": "web"}
    )
    restored = decode_occurrence(encode_occurrence(occurrence))
    assert restored.enrichment == occurrence.enrichment
    document = msgspec.json.decode(encode_document(occurrence))
    assert list(document)[-3:] == ["enrichment", "resourceVersion", "event"]
    assert document["enrichment"] == {
        "status": "hit",
        "workload": {"kind": "Deployment", "name": "web"},
        "labels": {"app": "web"},
    }
    assert "enrichment" not in msgspec.json.decode(encode_document(plain))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kubevents.yaml"
    path.write_text(text)
    return path


def test_enrichment_is_off_by_default_and_takes_an_allow_list(tmp_path: Path) -> None:
    assert load_export_config(environ={}).enrich is None
    config = load_export_config(
        write(tmp_path, "enrich: {kinds: [Pod, ReplicaSet, Deployment], labels: [app]}\n"),
        environ={},
    )
    assert config.enrich == EnrichConfig(kinds=["Pod", "ReplicaSet", "Deployment"], labels=["app"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("enrich: {kinds: []}", "enrich.kinds: list at least one kind"),
        ("enrich: {kinds: [Pod, Widget]}", "enrich.kinds[1]: 'Widget' is not a kind"),
        ("enrich: {kinds: [pod]}", "kinds are case-sensitive"),
        ("enrich: {kinds: [Pod, Pod]}", "enrich.kinds[1]: Pod is listed twice"),
        ("enrich: {kinds: [Pod], labels: ['a b']}", "enrich.labels[0]: 'a b' is not a label"),
        ('enrich: {kinds: [Pod], annotations: ["x\\""]}', "enrich.annotations[0]:"),
        ("enrich: {kinds: [Pod], labels: [app, app]}", "enrich.labels: a key is listed twice"),
        ("enrich: {kinds: [Pod], sync_timeout: 0s}", "enrich.sync_timeout: must be more than 0"),
        ("enrich: {kinds: [Pod], page_size: 0}", "enrich.page_size: must be 1-10000"),
        ("enrich: {kinds: [Pod], typo: 1}", "typo"),
        ("enrich: {labels: [app]}", "kinds"),
    ],
)
def test_invalid_enrichment_configs_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        load_export_config(write(tmp_path, text + "\n"), environ={})
    assert message in str(caught.value)


def test_the_access_check_asks_for_list_and_watch_of_each_enabled_kind(tmp_path: Path) -> None:
    config = load_export_config(
        write(tmp_path, "namespace: shop\nenrich: {kinds: [Pod, Deployment, Node]}\n"), environ={}
    )
    asked = {(p.verb, p.resource, p.group, p.namespace) for p in required_permissions(config)}
    assert asked == {
        (verb, resource, group, namespace)
        for verb in ("list", "watch")
        for resource, group, namespace in (
            ("events", "", "shop"),
            ("pods", "", "shop"),
            ("deployments", "apps", "shop"),
            ("nodes", "", None),
        )
    }


def test_remembered_answers_go_when_the_caches_change() -> None:
    enrich, _ = enricher(["Pod", "ReplicaSet", "Deployment"], DEPLOYMENT_CHAIN, labels=["app"])
    pod = ref("Pod", "web-5d8f-x1")
    assert enrich.resolve(pod).workload == Workload("Deployment", "web")
    pods, changes = enrich._caches["Pod"], enrich._caches["Pod"].changes
    before = changes.count
    pods.put(DEPLOYMENT_CHAIN[2][1])  # a status update: nothing the cache keeps changed
    assert changes.count == before
    enrich._caches["Deployment"].remove(DEPLOYMENT_CHAIN[0][1])
    assert enrich.resolve(pod).workload == Workload("Deployment", "web")  # from the RS's ref
    enrich._caches["ReplicaSet"].remove(DEPLOYMENT_CHAIN[1][1])
    assert enrich.resolve(pod).workload == Workload("ReplicaSet", "web-5d8f")
    pods.remove(DEPLOYMENT_CHAIN[2][1])
    assert enrich.resolve(pod) == Enrichment("miss", "gone")
    relabelled = msgspec.structs.replace(DEPLOYMENT_CHAIN[2][1], labels={"app": "shop"})
    pods.put(relabelled)
    assert enrich.resolve(pod).labels == {"app": "shop"}


def test_an_enricher_needs_caches_that_share_their_changes() -> None:
    caches = {k: ObjectCache(KINDS[k], (), ()) for k in ("Pod", "ReplicaSet")}
    with pytest.raises(ValueError, match="share one Changes"):
        Enricher(caches, EnrichMetrics(ExportMetrics(CollectorRegistry())))


def test_caches_of_successive_exporters_share_one_set_of_metrics() -> None:
    """A leader-elected replica builds an exporter per term, all on one registry."""
    from kubevents.export import MetadataCaches

    metrics = ExportMetrics(CollectorRegistry())
    config = EnrichConfig(kinds=["Pod"])
    first = MetadataCaches(None, config, metrics)  # type: ignore[arg-type]  # never connects
    second = MetadataCaches(None, config, metrics)  # type: ignore[arg-type]
    assert first.metrics is second.metrics
