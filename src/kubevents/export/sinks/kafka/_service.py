"""Kafka: one record per occurrence, delivered by an idempotent producer with ``acks=all``.

A write hands every occurrence of its batch to the producer and returns only when the broker
has acknowledged each record (all in-sync replicas have it); until then nothing is
acknowledged to the exporter's ack log, so a crash or an outage re-sends rather than loses.

Retries without duplicates. The producer itself retries a record batch that failed in
flight; with idempotence the broker drops a retried copy it already has (producer id and
sequence numbers). What fails past that (a timeout of this sink's wait, the broker gone)
surfaces as ``SinkError`` and the pipeline retries the whole write: the sink then re-sends
only the occurrences whose earlier delivery failed, and waits again for those still in
flight, so a record the broker took is never sent a second time by the same process. Only a
restart (SIGKILL, a crash) can re-send an occurrence the broker already had: the documented
at-least-once edge, which consumers close with the ``id`` header.

Per-record results: a record the broker refuses for good (too large, invalid) is ``Rejected``
(dead letters); a refusal of the credentials or of the topic is a permanent ``SinkError``.

Secrets: the SASL password is passed to the producer and never logged (aiokafka's debug log of
the SASL exchange is filtered out); ``password_file`` is checked before every write, and a
changed file gets a new producer that logs in with the new password.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubevents.export._occurrence import Occurrence
from kubevents.export._secrets import SecretFile
from kubevents.export.sinks._base import Rejected, SinkError, WriteResult
from kubevents.export.sinks.kafka._config import DEFAULT_BATCH_BYTES
from kubevents.export.sinks.kafka._encoder import RecordFormat, encode_record
from kubevents.export.sinks.kafka._partitioner import KafkaPartitioner

__all__ = ["KafkaAuth", "KafkaSink"]

log = logging.getLogger(__name__)


class _NoSaslExchange(logging.Filter):
    """aiokafka logs every request and response at debug, the SASL ones with their bytes: a
    PLAIN login carries the password in clear. Those records are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(type(arg).__name__.startswith("Sasl") for arg in args)


_AIOKAFKA_CONN = logging.getLogger("aiokafka.conn")
if not any(isinstance(f, _NoSaslExchange) for f in _AIOKAFKA_CONN.filters):
    _AIOKAFKA_CONN.addFilter(_NoSaslExchange())

_PARTITIONER = KafkaPartitioner()

# Refusals that are about one record: it goes to the dead letters, the others are stored.
_RECORD_ERRORS = frozenset(
    {"MessageSizeTooLargeError", "RecordTooLargeError", "InvalidMessageError",
     "CorruptRecordException", "RecordListTooLargeError", "UnsupportedForMessageFormatError"}
)  # fmt: skip
# Refusals that are about the configuration: retrying cannot help until someone changes it.
_PERMANENT_ERRORS = {
    "TopicAuthorizationFailedError": "topic_authorization",
    "ClusterAuthorizationFailedError": "cluster_authorization",
    "TransactionalIdAuthorizationFailed": "authorization",
    "SaslAuthenticationFailed": "authentication",
    "AuthenticationFailedError": "authentication",
    "UnsupportedSaslMechanismError": "authentication",
    "IllegalSaslStateError": "authentication",
    "InvalidTopicError": "invalid_topic",
}

# The producer cannot go on (its id or sequence numbers are no longer valid): a new one can.
_PRODUCER_STATE_ERRORS = frozenset(
    {"OutOfOrderSequenceNumber", "ProducerFenced", "UnknownProducerIdError",
     "InvalidProducerEpoch", "InvalidProducerIdMapping", "ProducerClosed", "IllegalOperation"}
)  # fmt: skip


@dataclass(frozen=True)
class KafkaAuth:
    tls: bool = False
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    insecure_skip_verify: bool = False
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = None
    password_file: Path | None = None

    @property
    def security_protocol(self) -> str:
        if self.sasl_mechanism:
            return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"
        return "SSL" if self.tls else "PLAINTEXT"


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if name in _PERMANENT_ERRORS:
        return _PERMANENT_ERRORS[name]
    if name in ("KafkaTimeoutError", "RequestTimedOutError", "TimeoutError"):
        return "timeout"
    if name in ("KafkaConnectionError", "NoBrokersAvailable", "NodeNotReadyError"):
        return "connection"
    if name in _PRODUCER_STATE_ERRORS:
        return "producer_state"
    if name == "UnknownTopicOrPartitionError":
        return "unknown_topic"
    if name in _RECORD_ERRORS:
        return "record_too_large" if "TooLarge" in name else "invalid_record"
    return "kafka_error"


class KafkaSink:
    """Occurrences as records on ``topic`` (docs/sinks/kafka.md)."""

    def __init__(
        self,
        bootstrap_servers: Sequence[str],
        *,
        name: str = "kafka",
        topic: str = "kubevents",
        record_format: RecordFormat = "json",
        compression: str | None = None,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        max_request_bytes: int = 1024 * 1024,
        linger: float = 0.0,
        timeout: float = 30.0,
        client_id: str = "kubevents",
        auth: KafkaAuth | None = None,
    ) -> None:
        self.bootstrap_servers = list(bootstrap_servers)
        self.topic = topic
        self._name = name
        self._format: RecordFormat = record_format
        self._compression = compression
        self._batch_bytes = batch_bytes
        self._max_request_bytes = max_request_bytes
        self._linger = linger
        self._timeout = timeout
        self._client_id = client_id
        self._auth = auth or KafkaAuth()
        self._password_file = (
            SecretFile(self._auth.password_file, "sasl.password_file")
            if self._auth.password_file
            else None
        )
        self._producer: Any = None
        # Deliveries by occurrence id, kept from a write that failed until a retry of the same
        # occurrence: one still in flight is waited for again, one that succeeded is not sent
        # again, one that failed is sent anew.
        self._deliveries: dict[str, asyncio.Future[Any]] = {}
        self._lock = asyncio.Lock()
        self._password_used: str | None = None  # what the current producer logs in with
        self._metadata: asyncio.Future[None] | None = None

    @property
    def name(self) -> str:
        return self._name

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._password_file is not None:
            try:
                self._password_file.read()
            except (OSError, ValueError) as exc:
                reason = getattr(exc, "strerror", None) or exc
                raise SinkError(
                    f"sasl.password_file {self._password_file.path}: {reason}", reason="config"
                ) from None
        try:
            producer = await self._ensure_producer()
        except SinkError as exc:
            if exc.permanent:
                raise
            # As the search sink: a broker that is down at start is not fatal; the spool
            # holds the occurrences and the first write connects.
            log.warning(
                "sink %s: Kafka at %s is not reachable yet (%s); the first write retries",
                self._name, ", ".join(self.bootstrap_servers), exc,
            )  # fmt: skip
            return
        # The topic's partitions (and its creation, where the broker creates topics on first
        # use) while the exporter lists its first page, not after the first write asks.
        self._metadata = asyncio.ensure_future(self._topic_metadata(producer))

    async def _topic_metadata(self, producer: Any) -> None:
        try:
            await producer.partitions_for(self.topic)
        except Exception as exc:
            # The first write asks again and reports what it gets.
            log.debug("sink %s: no metadata for topic %s yet: %r", self._name, self.topic, exc)

    async def close(self) -> None:
        if self._metadata is not None:
            self._metadata.cancel()
            self._metadata = None
        producer, self._producer = self._producer, None
        self._deliveries.clear()
        if producer is not None:
            try:
                # stop() flushes what is queued; a broker that is down must not hold shutdown.
                await asyncio.wait_for(producer.stop(), self._timeout)
            except Exception as exc:
                log.warning("sink %s: closing the producer: %s", self._name, exc)

    def _ssl_context(self) -> ssl.SSLContext | None:
        auth = self._auth
        if not auth.tls:
            return None
        try:
            context = ssl.create_default_context(cafile=str(auth.ca_file) if auth.ca_file else None)
            if auth.client_cert:
                context.load_cert_chain(auth.client_cert, auth.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise SinkError(f"TLS files: {exc}", reason="tls_config", permanent=True) from None
        if auth.insecure_skip_verify:
            log.warning("sink %s: TLS verification of the brokers is disabled", self._name)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _password(self) -> str | None:
        if self._password_file is not None:
            return self._password_file.value()
        return self._auth.password

    async def _ensure_producer(self) -> Any:
        if self._producer is not None:
            return self._producer
        async with self._lock:  # the lanes of the driver write at once: one producer for all
            if self._producer is None:
                self._producer = await self._new_producer()
            return self._producer

    async def _new_producer(self) -> Any:
        from aiokafka import AIOKafkaProducer

        auth = self._auth
        ssl_context = self._ssl_context()
        self._password_used = self._password()
        sasl: dict[str, Any] = {}
        if auth.sasl_mechanism:
            sasl = {
                "sasl_mechanism": auth.sasl_mechanism,
                "sasl_plain_username": auth.username,
                "sasl_plain_password": self._password_used,
            }
        if sasl or ssl_context is not None:
            await self._check_login(ssl_context, sasl)
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
            compression_type=self._compression,
            partitioner=_PARTITIONER,
            max_batch_size=self._batch_bytes,
            max_request_size=self._max_request_bytes,
            linger_ms=int(self._linger * 1000),
            request_timeout_ms=int(self._timeout * 1000),
            security_protocol=auth.security_protocol,
            ssl_context=ssl_context,
            **sasl,
        )
        try:
            await asyncio.wait_for(producer.start(), self._timeout)
        except BaseException as exc:
            await self._discard(producer)
            if isinstance(exc, Exception):
                raise self._error(exc, "connecting") from None
            raise
        return producer

    async def _check_login(self, ssl_context: ssl.SSLContext | None, sasl: dict[str, Any]) -> None:
        """Connect (TLS) and log in (SASL) to the first broker that answers: a certificate that
        fails verification or a refused login is a configuration error.

        The producer's own bootstrap reports both only as "unable to bootstrap", the same as a
        broker that is down, which would be retried for ever.
        """
        from aiokafka.conn import create_conn
        from aiokafka.errors import KafkaError

        for server in self.bootstrap_servers:
            host, _, port = server.rpartition(":")
            try:
                conn = await asyncio.wait_for(
                    create_conn(
                        host.strip("[]"), int(port), client_id=self._client_id,
                        request_timeout_ms=int(self._timeout * 1000), ssl_context=ssl_context,
                        security_protocol=self._auth.security_protocol, **sasl,
                    ),
                    self._timeout,
                )  # fmt: skip
            except ssl.SSLCertVerificationError as exc:
                raise SinkError(
                    f"TLS to {server}: the broker's certificate failed verification "
                    f"({exc.verify_message}) against "
                    + (f"ca_file {self._auth.ca_file}" if self._auth.ca_file else "the system CAs"),
                    reason="tls_verify", permanent=True,
                ) from None  # fmt: skip
            except (OSError, TimeoutError, KafkaError) as exc:
                if _reason(exc) == "authentication":
                    raise self._error(exc, f"logging in to {server}") from None
                continue  # down or unreachable: the next one, or the producer's own retries
            conn.close()
            return

    async def _discard(self, producer: Any) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 5)

    def _error(self, exc: BaseException, doing: str) -> SinkError:
        reason = _reason(exc)
        permanent = reason in _PERMANENT_ERRORS.values() or reason == "unknown_topic"
        text = str(exc) or type(exc).__name__
        return SinkError(
            f"{doing}: {type(exc).__name__}: {text}", reason=reason, permanent=permanent
        )

    # -- writing -------------------------------------------------------------------------------

    async def write(self, batch: Sequence[Occurrence]) -> WriteResult:
        if not batch:
            return WriteResult()
        if (
            self._password_file is not None
            and self._producer is not None
            and self._password_file.value() != self._password_used
        ):
            # The Secret was rotated: a producer that logs in with the new password.
            await self._rebuild()
        producer = await self._ensure_producer()
        pending = await self._send(producer, batch)
        if pending:
            await asyncio.wait(pending, timeout=self._timeout)
        try:
            return self._settle(batch)
        except SinkError as exc:
            if exc.reason in ("authentication", "producer_state") and producer is self._producer:
                # A refused password (rotated in its file) or a producer in a fatal state
                # (fenced, out of sequence): the retry builds a new producer.
                await self._rebuild()
            raise

    async def _send(self, producer: Any, batch: Sequence[Occurrence]) -> list[asyncio.Future[Any]]:
        from aiokafka.errors import KafkaError

        deliveries = self._deliveries
        pending: list[asyncio.Future[Any]] = []
        # The topic's partitions once per write, each record's partition chosen here: the
        # producer would otherwise list them twice for every record.
        partitions: list[int] | None = None
        partition_of = _PARTITIONER
        for occ in batch:
            delivery = deliveries.get(occ.id)
            if delivery is not None and not (delivery.done() and delivery.exception()):
                if not delivery.done():
                    pending.append(delivery)
                continue
            record = encode_record(occ, self._format)
            try:
                if partitions is None:
                    partitions = sorted(await producer.partitions_for(self.topic))
                delivery = await producer.send(
                    self.topic, record.value, key=record.key, headers=record.headers,
                    partition=partition_of(record.key, partitions, partitions),
                )  # fmt: skip
            except KafkaError as exc:
                if type(exc).__name__ in _RECORD_ERRORS:
                    # Refused before it left (larger than max_request_bytes): settle as such.
                    delivery = asyncio.get_running_loop().create_future()
                    delivery.set_exception(exc)
                else:
                    if exc.__class__.__name__ != "KafkaTimeoutError":
                        # The producer is unusable (closed, fenced): the retry builds another.
                        await self._rebuild()
                    raise self._error(exc, "sending") from None
            deliveries[occ.id] = delivery
            pending.append(delivery)
        return pending

    def _settle(self, batch: Sequence[Occurrence]) -> WriteResult:
        deliveries = self._deliveries
        rejected: list[Rejected] = []
        failure: BaseException | None = None
        in_flight = 0
        settled: set[str] = set()
        for occ in batch:
            if occ.id in settled:
                continue
            settled.add(occ.id)
            delivery = deliveries[occ.id]
            if not delivery.done():
                in_flight += 1
                continue
            exc = delivery.exception()
            if exc is None:
                continue
            if type(exc).__name__ in _RECORD_ERRORS:
                rejected.append(Rejected(occ, _reason(exc)))
                log.warning("sink %s: the broker refused %s: %s", self._name, occ.id, exc)
            elif failure is None:
                failure = exc
        if in_flight:
            raise SinkError(
                f"{in_flight} of {len(settled)} records not acknowledged within "
                f"{self._timeout:g}s (they stay in flight and are waited for again)",
                reason="timeout",
            )
        if failure is not None:
            error = self._error(failure, "delivery")
            if error.permanent:
                # The pipeline gives up on this batch after a few attempts: forget it.
                for occ in batch:
                    deliveries.pop(occ.id, None)
            raise error
        for occ in batch:
            # pop, not del: a replay can put one occurrence twice into a batch (both copies
            # share one delivery, so it is sent once).
            deliveries.pop(occ.id, None)
        return WriteResult(rejected)

    async def _rebuild(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await self._discard(producer)
