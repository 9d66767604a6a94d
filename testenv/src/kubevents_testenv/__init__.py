"""The project's test environment: a real local Kubernetes control plane (etcd + kube-apiserver
built from Go modules), real search engines, kubectl and Helm. Not part of the kubevents wheel:
tests, benchmarks, scripts and ``make run`` install it editable from the repository's testenv/.

This package is stdlib only on purpose: it must not import the ``kubernetes`` package, so that
the code under test and the harness that checks it cannot share a bug.

    from kubevents_testenv import LocalCluster

    with LocalCluster() as cluster:
        print(cluster.kubeconfig)

``make_pki`` makes throwaway TLS certificates (a CA, a server and a client one), and
``issue_client_cert`` more client ones from that CA.
``SearchEngine`` / ``ensure_search_engine`` do the same for a real OpenSearch or Elasticsearch
node resolved from Maven Central, and ``KafkaBroker`` / ``ensure_kafka`` for a real Apache Kafka
broker (KRaft, one node). ``FaultProxy`` sits in front of a real server and makes it
unreachable on demand (an apiserver outage).

Two submodules build on kubevents itself and are not imported here: ``workload`` records test
Events through ``kubevents.record``, and ``cli`` is the ``kubevents-testenv`` command
(``python -m kubevents_testenv``): ``cluster``, ``demo`` and ``workload``.
"""

from ._build import (
    ETCD_VERSION,
    HELM_VERSION,
    KUBE_VERSION,
    Binaries,
    ensure_binaries,
    ensure_helm,
    ensure_kubectl,
)
from ._cluster import CERT_ADMIN_USER, LIMITED_USER, LIMITED_VERBS, LocalCluster
from ._esnode import (
    ELASTICSEARCH_NODE_VERSION,
    ELASTICSEARCH_NODE_VERSIONS,
    ElasticsearchNode,
    ensure_elasticsearch_node,
    shared_elasticsearch_node,
)
from ._faultproxy import FaultProxy
from ._kafka import DEFAULT_KAFKA_VERSION, KafkaBroker, KafkaRuntime, ensure_kafka, shared_kafka
from ._pki import Pki, issue_client_cert, make_pki
from ._search import (
    DEFAULT_SEARCH_VERSIONS,
    SearchEngine,
    SearchRuntime,
    ensure_search_engine,
    shared_search_engine,
)
from ._support import free_ports
from ._tokens import create_token

__all__ = [
    "CERT_ADMIN_USER",
    "DEFAULT_KAFKA_VERSION",
    "DEFAULT_SEARCH_VERSIONS",
    "ELASTICSEARCH_NODE_VERSION",
    "ELASTICSEARCH_NODE_VERSIONS",
    "ETCD_VERSION",
    "HELM_VERSION",
    "KUBE_VERSION",
    "LIMITED_USER",
    "LIMITED_VERBS",
    "Binaries",
    "ElasticsearchNode",
    "FaultProxy",
    "KafkaBroker",
    "KafkaRuntime",
    "LocalCluster",
    "Pki",
    "SearchEngine",
    "SearchRuntime",
    "create_token",
    "ensure_binaries",
    "ensure_elasticsearch_node",
    "ensure_helm",
    "ensure_kafka",
    "ensure_kubectl",
    "ensure_search_engine",
    "free_ports",
    "issue_client_cert",
    "make_pki",
    "shared_elasticsearch_node",
    "shared_kafka",
    "shared_search_engine",
]
