"""The Kafka sink against a real Apache Kafka 4 broker (KRaft) from Maven Central."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path

import msgspec
import pytest
from aiokafka.partitioner import murmur2

from kubevents.export import Occurrence
from kubevents.export._document import encode_document
from kubevents.export.sinks import KafkaSink, SinkError
from kubevents.export.sinks.kafka import CLOUDEVENTS_TYPE, KafkaAuth
from kubevents_testenv import KafkaBroker, free_ports, shared_kafka
from kubevents_testenv._kafka import SASL_USERS

from ...kafka_support import consume, duplicates, out_of_order
from .._factory import make_occurrence


@pytest.fixture(scope="session")
def kafka() -> KafkaBroker:
    return shared_kafka()


@pytest.fixture
def topic() -> str:
    return f"sink-{uuid.uuid4().hex[:10]}"


def of_object(obj: int, count: int, *, message: str = "Back-off restarting") -> Occurrence:
    """Occurrence ``count`` of the one Event about object ``obj``."""
    occ = make_occurrence(f"event-{obj}", count, message=message)
    involved = msgspec.structs.replace(occ.event.involved_object, uid=f"object-{obj}")
    return msgspec.structs.replace(
        occ, event=msgspec.structs.replace(occ.event, involved_object=involved)
    )


async def test_each_occurrence_is_one_record_keyed_by_its_object(
    kafka: KafkaBroker, topic: str
) -> None:
    sink = KafkaSink([kafka.bootstrap], topic=topic)
    await sink.start()
    batch = [of_object(obj, count) for count in (1, 2, 3) for obj in range(20)]
    try:
        result = await sink.write(batch)
    finally:
        await sink.close()
    assert result.rejected == []
    records = await consume(kafka.bootstrap, topic, len(batch))
    assert sorted(r.id for r in records) == sorted(o.id for o in batch)
    by_id = {o.id: o for o in batch}
    for record in records:
        occ = by_id[record.id]
        assert record.key == occ.event.involved_object.uid.encode()
        assert record.value == encode_document(occ)
        assert record.headers == {
            "id": occ.id.encode(), "type": b"Normal", "reason": b"Started",
            "namespace": b"default",
        }  # fmt: skip
    partitions = {r.key: {x.partition for x in records if x.key == r.key} for r in records}
    assert all(len(p) == 1 for p in partitions.values())  # one object, one partition
    assert len({p for ps in partitions.values() for p in ps}) > 1  # and the topic is spread
    # The partition any Kafka client's default partitioner picks for the key.
    assert all(r.partition == (murmur2(r.key) & 0x7FFFFFFF) % kafka.partitions for r in records)
    assert out_of_order(records) == []


async def test_cloudevents_structured_mode(kafka: KafkaBroker, topic: str) -> None:
    sink = KafkaSink([kafka.bootstrap], topic=topic, record_format="cloudevents")
    await sink.start()
    occ = of_object(7, 3)
    try:
        await sink.write([occ])
    finally:
        await sink.close()
    (record,) = await consume(kafka.bootstrap, topic, 1)
    envelope = record.document()
    assert envelope["specversion"] == "1.0"
    assert envelope["id"] == occ.id
    assert envelope["type"] == CLOUDEVENTS_TYPE
    assert envelope["source"] == "kubevents/test-cluster"
    assert envelope["subject"] == "default/Pod/app"
    assert envelope["time"] == "2024-05-01T12:00:02.000000Z"
    assert envelope["datacontenttype"] == "application/json"
    assert envelope["data"] == json.loads(encode_document(occ))
    assert record.headers["content-type"].startswith(b"application/cloudevents+json")


async def test_a_write_retried_across_a_broker_restart_sends_nothing_twice(
    kafka: KafkaBroker, topic: str
) -> None:
    sink = KafkaSink([kafka.bootstrap], topic=topic, timeout=3)
    await sink.start()
    first = [of_object(obj, 1) for obj in range(50)]
    await sink.write(first)  # the topic exists, the producer is connected
    batch = [of_object(obj, 2) for obj in range(300)]
    try:
        await asyncio.to_thread(kafka.stop)
        try:
            with pytest.raises(SinkError) as failed:
                await sink.write(batch)
            assert not failed.value.permanent
        finally:
            await asyncio.to_thread(kafka.start)
        # The pipeline retries the same batch: what was in flight is waited for, not resent.
        for _ in range(20):
            try:
                await sink.write(batch)
                break
            except SinkError:
                continue
        else:
            raise AssertionError("the write never succeeded after the broker came back")
    finally:
        await sink.close()
    records = await consume(kafka.bootstrap, topic, len(first) + len(batch))
    assert duplicates(records) == {}
    assert sorted(r.id for r in records) == sorted(o.id for o in first + batch)
    assert out_of_order(records) == []


async def test_an_occurrence_twice_in_one_batch_is_sent_once(
    kafka: KafkaBroker, topic: str
) -> None:
    # A replay after a restart can hand a sink one occurrence twice in a batch.
    sink = KafkaSink([kafka.bootstrap], topic=topic)
    await sink.start()
    batch = [of_object(1, 1), of_object(2, 1), of_object(1, 1), of_object(1, 2)]
    try:
        result = await sink.write(batch)
    finally:
        await sink.close()
    assert result.rejected == []
    records = await consume(kafka.bootstrap, topic, 3)
    assert sorted(r.id for r in records) == sorted({o.id for o in batch})


async def test_a_record_larger_than_a_request_is_rejected_alone(
    kafka: KafkaBroker, topic: str
) -> None:
    sink = KafkaSink([kafka.bootstrap], topic=topic, max_request_bytes=8192)
    await sink.start()
    huge = of_object(1, 1, message="x" * 20_000)
    small = [of_object(2, 1), of_object(3, 1)]
    try:
        result = await sink.write([small[0], huge, small[1]])
    finally:
        await sink.close()
    assert [(r.occurrence.id, r.reason) for r in result.rejected] == [(huge.id, "record_too_large")]
    records = await consume(kafka.bootstrap, topic, 2)
    assert sorted(r.id for r in records) == sorted(o.id for o in small)


async def test_a_broker_down_at_start_is_not_fatal_and_a_write_fails_retryably() -> None:
    (port,) = free_ports(1)
    sink = KafkaSink([f"127.0.0.1:{port}"], timeout=1)
    await sink.start()  # logs, does not raise: the spool holds occurrences meanwhile
    try:
        with pytest.raises(SinkError) as failed:
            await sink.write([of_object(1, 1)])
    finally:
        await sink.close()
    assert not failed.value.permanent
    assert failed.value.reason in ("connection", "timeout")


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_sasl(
    kafka: KafkaBroker, topic: str, mechanism: str, caplog: pytest.LogCaptureFixture
) -> None:
    user, password = next(iter(SASL_USERS.items()))
    auth = KafkaAuth(sasl_mechanism=mechanism, username=user, password=password)
    sink = KafkaSink([kafka.sasl_bootstrap], topic=topic, auth=auth)
    caplog.set_level(logging.DEBUG)  # aiokafka logs requests' bytes at debug: PLAIN's too
    await sink.start()
    try:
        await sink.write([of_object(1, 1)])
    finally:
        await sink.close()
    assert [r.id for r in await consume(kafka.bootstrap, topic, 1)] == [of_object(1, 1).id]
    assert "Request to" in caplog.text  # the debug log was on
    assert password not in caplog.text


async def test_a_refused_password_stops_the_start_and_is_never_logged(
    kafka: KafkaBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-" + uuid.uuid4().hex
    password_file = tmp_path / "password"
    password_file.write_text(secret + "\n")
    auth = KafkaAuth(
        sasl_mechanism="SCRAM-SHA-256", username="kubevents", password_file=password_file
    )
    sink = KafkaSink([kafka.sasl_bootstrap], auth=auth, timeout=10)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SinkError) as refused:
        await sink.start()
    await sink.close()
    assert refused.value.permanent
    assert refused.value.reason == "authentication"
    assert secret not in caplog.text
    assert secret not in str(refused.value)


async def test_a_password_file_is_read_again_when_it_changes(
    kafka: KafkaBroker, topic: str, tmp_path: Path
) -> None:
    user, password = next(iter(SASL_USERS.items()))
    password_file = tmp_path / "password"
    password_file.write_text(password + "\n")
    auth = KafkaAuth(sasl_mechanism="SCRAM-SHA-512", username=user, password_file=password_file)
    sink = KafkaSink([kafka.sasl_bootstrap], topic=topic, auth=auth, timeout=10)
    await sink.start()
    try:
        await sink.write([of_object(1, 1)])
        password_file.write_text("rotated-but-wrong\n")  # the next write logs in anew
        with pytest.raises(SinkError) as refused:
            await sink.write([of_object(2, 1)])
        assert refused.value.reason == "authentication"
        password_file.write_text(password + "\n")
        await sink.write([of_object(2, 1)])
    finally:
        await sink.close()
    records = await consume(kafka.bootstrap, topic, 2)
    assert sorted(r.id for r in records) == [of_object(1, 1).id, of_object(2, 1).id]
