"""The Kafka sink: one record per occurrence, keyed by the involved object's uid."""

from typing import TYPE_CHECKING

from kubevents._lazy import lazy_exports
from kubevents.export.sinks.kafka._config import (
    DEFAULT_BATCH_BYTES,
    KafkaSaslConfig,
    KafkaSinkConfig,
)

if TYPE_CHECKING:
    from kubevents.export.sinks.kafka._encoder import CLOUDEVENTS_TYPE, KafkaRecord, encode_record
    from kubevents.export.sinks.kafka._service import KafkaAuth, KafkaSink
else:
    # The producer (and aiokafka) only for a configuration that has this sink.
    __getattr__ = lazy_exports(
        __name__,
        {
            "CLOUDEVENTS_TYPE": "kubevents.export.sinks.kafka._encoder",
            "KafkaRecord": "kubevents.export.sinks.kafka._encoder",
            "encode_record": "kubevents.export.sinks.kafka._encoder",
            "KafkaAuth": "kubevents.export.sinks.kafka._service",
            "KafkaSink": "kubevents.export.sinks.kafka._service",
        },
    )

__all__ = [
    "CLOUDEVENTS_TYPE",
    "DEFAULT_BATCH_BYTES",
    "KafkaAuth",
    "KafkaRecord",
    "KafkaSaslConfig",
    "KafkaSink",
    "KafkaSinkConfig",
    "encode_record",
]
