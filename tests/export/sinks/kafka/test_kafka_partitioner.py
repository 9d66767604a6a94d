"""The sink's partitioner puts a key where Kafka's Java producer and aiokafka's default do."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from kubevents.export.sinks.kafka._partitioner import KafkaPartitioner, murmur2

# Apache Kafka's clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java,
# testMurmur2: Java's signed 32-bit results.
KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def _signed(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


@pytest.mark.parametrize(("key", "expected"), KAFKA_VECTORS.items())
def test_murmur2_matches_kafkas_own_test_vectors(key: bytes, expected: int) -> None:
    assert _signed(murmur2(key)) == expected


def test_murmur2_matches_aiokafka_for_every_length_and_byte() -> None:
    rng = random.Random(20261205)
    keys = [rng.randbytes(length) for length in range(300) for _ in range(8)]
    keys += [bytes([b]) * n for b in (0x00, 0x7F, 0x80, 0xFF) for n in range(1, 13)]
    keys.append(rng.randbytes(64 * 4 + 3))  # more words than the precompiled readers
    for key in keys:
        assert murmur2(key) == aiokafka_murmur2(key), key


def test_a_key_goes_to_the_partition_of_kafkas_default_partitioner() -> None:
    ours, theirs = KafkaPartitioner(), DefaultPartitioner()
    rng = random.Random(7)
    keys = [str(rng.getrandbits(128)).encode() for _ in range(500)]
    keys += [b"8f1c2a44-1111-4222-8333-000000007919", b""]
    for count in (1, 2, 3, 7, 12, 50, 64):
        partitions = list(range(count))
        for key in keys:
            expected = (_signed(aiokafka_murmur2(key)) & 0x7FFFFFFF) % count  # Java's formula
            assert ours(key, partitions, partitions) == expected
            assert theirs(key, partitions, partitions) == expected
    # Availability does not move a keyed record (the Java client's rule as well).
    assert ours(b"foobar", [0, 1, 2], [2]) == (-790332482 & 0x7FFFFFFF) % 3 == 0


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    partitioner = KafkaPartitioner()
    assert {partitioner(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}
    assert {partitioner(None, [0, 1], []) for _ in range(50)} <= {0, 1}
