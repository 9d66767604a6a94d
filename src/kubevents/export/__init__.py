"""The exporter: list-watch every Event, ship each occurrence to sinks, lose and repeat nothing."""

from kubevents.export._access import (
    Permission,
    check_access,
    heartbeat_permissions,
    required_permissions,
)
from kubevents.export._acklog import AckLog
from kubevents.export._capture import CaptureError, CaptureRecord, CaptureWriter, read_capture
from kubevents.export._config import (
    BufferConfig,
    ConfigError,
    ElasticsearchSinkConfig,
    ExportConfig,
    HeartbeatConfig,
    JSONLSinkConfig,
    KafkaSinkConfig,
    LeaderElectionConfig,
    OpenSearchSinkConfig,
    Seconds,
    SinkConfig,
    SQLiteSinkConfig,
    WebhookSinkConfig,
    parse_file_mode,
)
from kubevents.export._configload import load_export_config, read_config_file
from kubevents.export._enrich import Enricher, ObjectCache
from kubevents.export._enrichconfig import EnrichConfig
from kubevents.export._enrichment import Enrichment, Workload
from kubevents.export._fields import EventFields, FieldsMeta, FieldsSeries
from kubevents.export._leader import (
    CLUSTER_ANNOTATION,
    EXIT_LEADERSHIP_LOST,
    RESUME_ANNOTATION,
    LeaderElectedExporter,
)
from kubevents.export._listen import parse_listen
from kubevents.export._metacache import MetadataCaches
from kubevents.export._metrics import ExportMetrics
from kubevents.export._occurrence import (
    Occurrence,
    TimeWindow,
    occurrence_count,
    occurrence_time,
)
from kubevents.export._pipeline import (
    BatchSettings,
    BufferSettings,
    DeadLetterHandler,
    Pipeline,
    Route,
    SpoolSettings,
)
from kubevents.export._replay import ReplayReport, replay
from kubevents.export._rules import Rule, RuleSet, compile_rules
from kubevents.export._service import Exporter, build_sink
from kubevents.export._source import ListWatchSettings, ListWatchSource
from kubevents.export._state import Checkpoint, EventTracker, load_checkpoint, save_checkpoint
from kubevents.export._supervisor import TaskFailure, TaskSupervisor
from kubevents.export._transforms import Dedup, RuleFilter, Transforms

__all__ = [
    "CLUSTER_ANNOTATION",
    "EXIT_LEADERSHIP_LOST",
    "RESUME_ANNOTATION",
    "AckLog",
    "BatchSettings",
    "BufferConfig",
    "BufferSettings",
    "CaptureError",
    "CaptureRecord",
    "CaptureWriter",
    "Checkpoint",
    "ConfigError",
    "DeadLetterHandler",
    "Dedup",
    "ElasticsearchSinkConfig",
    "EnrichConfig",
    "Enricher",
    "Enrichment",
    "EventFields",
    "EventTracker",
    "ExportConfig",
    "ExportMetrics",
    "Exporter",
    "FieldsMeta",
    "FieldsSeries",
    "HeartbeatConfig",
    "JSONLSinkConfig",
    "KafkaSinkConfig",
    "LeaderElectedExporter",
    "LeaderElectionConfig",
    "ListWatchSettings",
    "ListWatchSource",
    "MetadataCaches",
    "ObjectCache",
    "Occurrence",
    "OpenSearchSinkConfig",
    "Permission",
    "Pipeline",
    "ReplayReport",
    "Route",
    "Rule",
    "RuleFilter",
    "RuleSet",
    "SQLiteSinkConfig",
    "Seconds",
    "SinkConfig",
    "SpoolSettings",
    "TaskFailure",
    "TaskSupervisor",
    "TimeWindow",
    "Transforms",
    "WebhookSinkConfig",
    "Workload",
    "build_sink",
    "check_access",
    "compile_rules",
    "heartbeat_permissions",
    "load_checkpoint",
    "load_export_config",
    "occurrence_count",
    "occurrence_time",
    "parse_file_mode",
    "parse_listen",
    "read_capture",
    "read_config_file",
    "replay",
    "required_permissions",
    "save_checkpoint",
]
