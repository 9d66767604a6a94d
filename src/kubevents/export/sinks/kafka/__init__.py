"""The Kafka sink: one record per occurrence, keyed by the involved object's uid."""

from kubevents.export.sinks.kafka._config import KafkaSaslConfig, KafkaSinkConfig
from kubevents.export.sinks.kafka._encoder import CLOUDEVENTS_TYPE, KafkaRecord, encode_record
from kubevents.export.sinks.kafka._service import KafkaAuth, KafkaSink

__all__ = [
    "CLOUDEVENTS_TYPE",
    "KafkaAuth",
    "KafkaRecord",
    "KafkaSaslConfig",
    "KafkaSink",
    "KafkaSinkConfig",
    "encode_record",
]
