"""The one adapter over the Kubernetes client: nothing else in kubevents imports ``kubernetes``."""

from kubevents.kube._client import EventList, EventsAPI, KubeClient
from kubevents.kube._config import ClusterConfig, ConfigError, load_config
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
    "DELETED",
    "ERROR",
    "INITIAL_EVENTS_END_ANNOTATION",
    "MODIFIED",
    "ClusterConfig",
    "ConfigError",
    "EventList",
    "EventsAPI",
    "KubeClient",
    "WatchEvent",
    "WatchStream",
    "excerpt",
    "load_config",
]
