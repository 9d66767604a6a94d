"""The exporter: list-watch every Event, ship each occurrence to sinks, lose and repeat nothing."""

from typing import TYPE_CHECKING

from kubevents._lazy import lazy_exports

if TYPE_CHECKING:
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
else:
    # Each module on first use of one of its names: `kubevents export` with one sink loads
    # neither the other sinks, nor the store readers, nor what its configuration leaves off.
    __getattr__ = lazy_exports(
        __name__,
        {
            "CLUSTER_ANNOTATION": "kubevents.export._leader",
            "EXIT_LEADERSHIP_LOST": "kubevents.export._leader",
            "RESUME_ANNOTATION": "kubevents.export._leader",
            "AckLog": "kubevents.export._acklog",
            "BatchSettings": "kubevents.export._pipeline",
            "BufferConfig": "kubevents.export._config",
            "BufferSettings": "kubevents.export._pipeline",
            "CaptureError": "kubevents.export._capture",
            "CaptureRecord": "kubevents.export._capture",
            "CaptureWriter": "kubevents.export._capture",
            "Checkpoint": "kubevents.export._state",
            "ConfigError": "kubevents.export._config",
            "DeadLetterHandler": "kubevents.export._pipeline",
            "Dedup": "kubevents.export._transforms",
            "ElasticsearchSinkConfig": "kubevents.export._config",
            "EnrichConfig": "kubevents.export._enrichconfig",
            "Enricher": "kubevents.export._enrich",
            "Enrichment": "kubevents.export._enrichment",
            "EventFields": "kubevents.export._fields",
            "EventTracker": "kubevents.export._state",
            "ExportConfig": "kubevents.export._config",
            "ExportMetrics": "kubevents.export._metrics",
            "Exporter": "kubevents.export._service",
            "FieldsMeta": "kubevents.export._fields",
            "FieldsSeries": "kubevents.export._fields",
            "HeartbeatConfig": "kubevents.export._config",
            "JSONLSinkConfig": "kubevents.export._config",
            "KafkaSinkConfig": "kubevents.export._config",
            "LeaderElectedExporter": "kubevents.export._leader",
            "LeaderElectionConfig": "kubevents.export._config",
            "ListWatchSettings": "kubevents.export._source",
            "ListWatchSource": "kubevents.export._source",
            "MetadataCaches": "kubevents.export._metacache",
            "ObjectCache": "kubevents.export._enrich",
            "Occurrence": "kubevents.export._occurrence",
            "OpenSearchSinkConfig": "kubevents.export._config",
            "Permission": "kubevents.export._access",
            "Pipeline": "kubevents.export._pipeline",
            "ReplayReport": "kubevents.export._replay",
            "Route": "kubevents.export._pipeline",
            "Rule": "kubevents.export._rules",
            "RuleFilter": "kubevents.export._transforms",
            "RuleSet": "kubevents.export._rules",
            "SQLiteSinkConfig": "kubevents.export._config",
            "Seconds": "kubevents.export._config",
            "SinkConfig": "kubevents.export._config",
            "SpoolSettings": "kubevents.export._pipeline",
            "TaskFailure": "kubevents.export._supervisor",
            "TaskSupervisor": "kubevents.export._supervisor",
            "TimeWindow": "kubevents.export._occurrence",
            "Transforms": "kubevents.export._transforms",
            "WebhookSinkConfig": "kubevents.export._config",
            "Workload": "kubevents.export._enrichment",
            "build_sink": "kubevents.export._service",
            "check_access": "kubevents.export._access",
            "compile_rules": "kubevents.export._rules",
            "heartbeat_permissions": "kubevents.export._access",
            "load_checkpoint": "kubevents.export._state",
            "load_export_config": "kubevents.export._configload",
            "occurrence_count": "kubevents.export._occurrence",
            "occurrence_time": "kubevents.export._occurrence",
            "parse_file_mode": "kubevents.export._config",
            "parse_listen": "kubevents.export._listen",
            "read_capture": "kubevents.export._capture",
            "read_config_file": "kubevents.export._configload",
            "replay": "kubevents.export._replay",
            "required_permissions": "kubevents.export._access",
            "save_checkpoint": "kubevents.export._state",
        },
    )

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
