"""The Kafka sink's TLS on a real broker: CA verification, mutual TLS, SASL over TLS.

The test broker (``kubevents_testenv.KafkaBroker``) serves SSL, SASL_SSL and a mutual-TLS
listener with a certificate of a CA made at its start (``kafka.pki``); a second CA made here
plays the wrong one. Records are read back over the plain listener.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import pytest

from kubevents.export import ConfigError, load_export_config
from kubevents.export._startup import start_sinks
from kubevents.export.sinks import KafkaSink, SinkError
from kubevents.export.sinks.kafka import KafkaAuth
from kubevents_testenv import KafkaBroker, Pki, make_pki, shared_kafka
from kubevents_testenv._kafka import SASL_USERS

from ...kafka_support import consume
from .._factory import make_occurrence

# A start that fails must fail on its own, long before the sink's timeout would end a hang.
_TIMEOUT = 60.0
_HANG = 30.0


@pytest.fixture(scope="session")
def kafka() -> KafkaBroker:
    return shared_kafka()


@pytest.fixture(scope="session")
def broker_pki(kafka: KafkaBroker) -> Pki:
    assert kafka.pki is not None
    return kafka.pki


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("other-pki"), ca_name="some other CA")


@pytest.fixture
def topic() -> str:
    return f"tls-{uuid.uuid4().hex[:10]}"


async def write_and_read(kafka: KafkaBroker, listener: str, topic: str, auth: KafkaAuth) -> None:
    sink = KafkaSink([kafka.address(listener)], topic=topic, auth=auth, timeout=_TIMEOUT)
    batch = [make_occurrence(f"tls-{i}", 1) for i in range(10)]
    await sink.start()
    try:
        result = await sink.write(batch)
    finally:
        await sink.close()
    assert result.rejected == []
    records = await consume(kafka.bootstrap, topic, len(batch))
    assert sorted(r.id for r in records) == sorted(o.id for o in batch)


async def test_tls_verified_against_the_ca_file(
    kafka: KafkaBroker, broker_pki: Pki, topic: str
) -> None:
    await write_and_read(kafka, "ssl", topic, KafkaAuth(tls=True, ca_file=broker_pki.ca))


async def test_mutual_tls(kafka: KafkaBroker, broker_pki: Pki, topic: str) -> None:
    auth = KafkaAuth(
        tls=True, ca_file=broker_pki.ca,
        client_cert=broker_pki.client_cert, client_key=broker_pki.client_key,
    )  # fmt: skip
    await write_and_read(kafka, "mtls", topic, auth)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
async def test_sasl_over_tls(
    kafka: KafkaBroker, broker_pki: Pki, topic: str, mechanism: str
) -> None:
    user, password = next(iter(SASL_USERS.items()))
    auth = KafkaAuth(
        tls=True, ca_file=broker_pki.ca,
        sasl_mechanism=mechanism, username=user, password=password,
    )  # fmt: skip
    await write_and_read(kafka, "sasl_ssl", topic, auth)


@pytest.mark.parametrize("listener", ["ssl", "sasl_ssl"])
@pytest.mark.parametrize("trust", ["other CA", "system CAs"])
async def test_an_untrusted_broker_certificate_stops_the_start_with_a_clear_error(
    kafka: KafkaBroker, other_pki: Pki, listener: str, trust: str
) -> None:
    ca_file = other_pki.ca if trust == "other CA" else None
    auth = KafkaAuth(tls=True, ca_file=ca_file)
    if listener == "sasl_ssl":
        user, password = next(iter(SASL_USERS.items()))
        auth = KafkaAuth(
            tls=True, ca_file=ca_file, sasl_mechanism="SCRAM-SHA-256",
            username=user, password=password,
        )  # fmt: skip
    sink = KafkaSink([kafka.address(listener)], auth=auth, timeout=_TIMEOUT)
    try:
        with pytest.raises(SinkError) as refused:
            await asyncio.wait_for(sink.start(), _HANG)
    finally:
        await sink.close()
    assert refused.value.permanent
    assert refused.value.reason == "tls_verify"
    message = str(refused.value)
    assert kafka.address(listener) in message
    assert "certificate failed verification (unable to get local issuer certificate)" in message
    assert (f"ca_file {other_pki.ca}" if ca_file else "the system CAs") in message


async def test_an_untrusted_broker_is_a_configuration_error_of_the_exporter(
    kafka: KafkaBroker, other_pki: Pki
) -> None:
    sink = {"type": "kafka", "bootstrap_servers": [kafka.address("ssl")], "tls": True,
            "ca_file": str(other_pki.ca)}  # fmt: skip
    config = load_export_config(overrides={"sinks": [sink]}, environ={})
    with pytest.raises(ConfigError) as stopped:
        await asyncio.wait_for(start_sinks(config), _HANG)
    assert str(stopped.value).startswith("sinks[0] (kafka): TLS to ")


async def test_insecure_skip_verify_trusts_any_certificate(
    kafka: KafkaBroker, other_pki: Pki, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    auth = KafkaAuth(tls=True, ca_file=other_pki.ca, insecure_skip_verify=True)
    await write_and_read(kafka, "ssl", topic, auth)
    assert "TLS verification of the brokers is disabled" in caplog.text


async def test_unreadable_tls_files_stop_the_start(kafka: KafkaBroker, tmp_path: Path) -> None:
    auth = KafkaAuth(tls=True, ca_file=tmp_path / "missing.pem")
    sink = KafkaSink([kafka.address("ssl")], auth=auth)
    with pytest.raises(SinkError) as failed:
        await sink.start()
    await sink.close()
    assert failed.value.permanent and failed.value.reason == "tls_config"
