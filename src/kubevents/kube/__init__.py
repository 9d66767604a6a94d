"""The one adapter over the Kubernetes API: kubeconfig and in-cluster setup, HTTP, Events."""

from kubevents.errors import ConfigError
from kubevents.kube._client import KubeClient
from kubevents.kube._config import (
    ENV_SERVICE_ACCOUNT_DIR,
    ClusterConfig,
    TokenFile,
    in_cluster_namespace,
    load_config,
    service_account_dir,
)
from kubevents.kube._election import (
    DEFAULT_LEASE_DURATION,
    DEFAULT_RENEW_DEADLINE,
    DEFAULT_RETRY_PERIOD,
    JITTER_FACTOR,
    ElectionRecord,
    LeaderElector,
    LeaseLock,
    ResourceLock,
    validate_timing,
)
from kubevents.kube._events import EventList, EventReader, EventsAPI
from kubevents.kube._lease import LEASE_API_VERSION, Lease, LeasesAPI, LeaseSpec
from kubevents.kube._metadata import (
    MetadataReader,
    ObjectMetadata,
    OwnerReference,
    PartialObjectMetadata,
)
from kubevents.kube._objects import APIResource, ObjectsAPI, UnknownResourceError
from kubevents.kube._transport import (
    CONTENT_TYPE_JSON,
    CONTENT_TYPE_JSON_PATCH,
    CONTENT_TYPE_MERGE_PATCH,
    CONTENT_TYPE_STRATEGIC_MERGE_PATCH,
)
from kubevents.kube._watch import (
    ADDED,
    BOOKMARK,
    DELETED,
    ERROR,
    INITIAL_EVENTS_END_ANNOTATION,
    MODIFIED,
    WatchEvent,
    WatchStream,
    excerpt,
)

__all__ = [
    "ADDED",
    "BOOKMARK",
    "CONTENT_TYPE_JSON",
    "CONTENT_TYPE_JSON_PATCH",
    "CONTENT_TYPE_MERGE_PATCH",
    "CONTENT_TYPE_STRATEGIC_MERGE_PATCH",
    "DEFAULT_LEASE_DURATION",
    "DEFAULT_RENEW_DEADLINE",
    "DEFAULT_RETRY_PERIOD",
    "DELETED",
    "ENV_SERVICE_ACCOUNT_DIR",
    "ERROR",
    "INITIAL_EVENTS_END_ANNOTATION",
    "JITTER_FACTOR",
    "LEASE_API_VERSION",
    "MODIFIED",
    "APIResource",
    "ClusterConfig",
    "ConfigError",
    "ElectionRecord",
    "EventList",
    "EventReader",
    "EventsAPI",
    "KubeClient",
    "LeaderElector",
    "Lease",
    "LeaseLock",
    "LeaseSpec",
    "LeasesAPI",
    "MetadataReader",
    "ObjectMetadata",
    "ObjectsAPI",
    "OwnerReference",
    "PartialObjectMetadata",
    "ResourceLock",
    "TokenFile",
    "UnknownResourceError",
    "WatchEvent",
    "WatchStream",
    "excerpt",
    "in_cluster_namespace",
    "load_config",
    "service_account_dir",
    "validate_timing",
]
