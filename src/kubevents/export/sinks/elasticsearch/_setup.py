"""Setting a cluster up for the search sink: detection, lifecycle policy, index template.

Installation is idempotent: each body carries a fingerprint (template ``_meta``, ILM
``_meta``, ISM description) and is written only when the cluster holds a different one, so a
restart of the exporter changes nothing. 401/403 and refusals raise ``SinkError`` (the
configuration is wrong); 429/5xx raise ``SearchError`` (try again later).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import msgspec

from kubevents.export.sinks._base import SinkError
from kubevents.export.sinks.elasticsearch._templates import (
    Engine,
    Product,
    flat_type_for,
    ilm_policy,
    index_template,
    ism_policy,
    parse_version,
)
from kubevents.export.sinks.elasticsearch._transport import Response, SearchError, Transport

__all__ = ["ClusterSetup"]

log = logging.getLogger(__name__)

_ENCODER = msgspec.json.Encoder()


class ClusterSetup:
    """Detects one cluster and installs what the sink's settings ask for."""

    def __init__(
        self,
        transport: Transport,
        *,
        name: str,
        index: str,
        mode: Literal["daily", "data_stream"],
        retention_days: float | None,
        shards: int,
        replicas: int | None,
        template_priority: int,
    ) -> None:
        self._transport = transport
        self.name = name
        self.index = index
        self.mode = mode
        self.retention_days = retention_days
        self.shards = shards
        self.replicas = replicas
        self.template_priority = template_priority
        #: What ``install`` wrote (``template``, ``ilm``, ``ism``); empty when unchanged.
        self.installed: list[str] = []
        #: ``installed``, ``unchanged``, ``unavailable`` (no ILM/ISM) or ``disabled``.
        self.lifecycle_status = "disabled"

    @property
    def template_name(self) -> str:
        return self.index

    @property
    def policy_name(self) -> str:
        return self.index

    async def install(self, engine: Engine, *, flat_maps: bool) -> None:
        self.installed = []
        ilm_name = await self._install_lifecycle(engine)
        await self._install_template(engine, ilm_name, flat_maps)

    async def _get(self, path: str) -> Response:
        response = await self._transport.request("GET", path)
        if response.status in (401, 403):
            raise SinkError(
                f"{response.host} refused our credentials (HTTP {response.status}): "
                f"{response.error_text()}",
                reason=f"http_{response.status}",
            )
        if response.status == 429 or response.status >= 500:
            raise SearchError(
                f"{response.host}{path} answered HTTP {response.status}",
                reason=f"http_{response.status}",
                status=response.status,
                retry_after=response.retry_after,
            )
        return response

    async def detect(self, product_hint: Product | None, version_hint: str | None) -> Engine:
        """What the cluster is (``GET /`` unless both hints are given) and what it can do."""
        if product_hint is not None and version_hint is not None:
            product: Product = product_hint
            version = parse_version(version_hint)
        else:
            response = await self._get("/")
            info = response.json() if response.status == 200 else None
            number = info.get("version", {}).get("number") if isinstance(info, dict) else None
            if not isinstance(number, str):
                raise SinkError(
                    f"{response.host} is not Elasticsearch or OpenSearch "
                    f"(GET / answered HTTP {response.status}: {response.error_text()})",
                    reason="not_search",
                )
            assert isinstance(info, dict)
            distribution = info["version"].get("distribution")
            product = product_hint or (
                "opensearch" if distribution == "opensearch" else "elasticsearch"
            )
            version = parse_version(number)
        if product == "opensearch":
            lifecycle_ok = await self._probe(f"/_plugins/_ism/policies/{self.policy_name}")
            return Engine(
                product,
                version,
                flat_type_for(product, version, False),
                "ism" if lifecycle_ok else None,
                data_streams=True,
            )
        features = await self._xpack_features()
        flattened = bool(features.get("flattened", {}).get("available"))
        ilm = features.get("ilm", {})
        ilm_ok = bool(ilm.get("available") and ilm.get("enabled", True))
        streams = version >= (8, 0, 0) or (
            version >= (7, 9, 0) and bool(features.get("data_streams", {}).get("available"))
        )
        return Engine(
            product,
            version,
            flat_type_for(product, version, flattened),
            "ilm" if ilm_ok else None,
            data_streams=streams,
        )

    async def _xpack_features(self) -> dict[str, Any]:
        # OSS builds (7.x) have no /_xpack: then none of its features either.
        response = await self._get("/_xpack?categories=features")
        data = response.json() if response.status == 200 else None
        features = data.get("features") if isinstance(data, dict) else None
        return features if isinstance(features, dict) else {}

    async def _probe(self, path: str) -> bool:
        """Whether an API exists: 200, or a 404 about the object rather than the route."""
        response = await self._get(path)
        if response.status == 200:
            return True
        if response.status != 404:
            return False  # "no handler found for uri" is a 400 (or 405)
        body = response.json() if response.body.startswith(b"{") else None
        error = body.get("error") if isinstance(body, dict) else None
        kind = error.get("type") if isinstance(error, dict) else None
        # Without the plugin the path is read as an index name: index_not_found_exception.
        return kind != "index_not_found_exception"

    async def _put(
        self, path: str, body: Any, what: str, query: dict[str, str] | None = None
    ) -> None:
        response = await self._transport.request(
            "PUT", path, body=_ENCODER.encode(body), query=query
        )
        if response.status == 429 or response.status >= 500:
            raise SearchError(
                f"installing the {what} answered HTTP {response.status}",
                reason=f"http_{response.status}",
                status=response.status,
                retry_after=response.retry_after,
            )
        if not 200 <= response.status < 300:
            raise SinkError(
                f"the cluster refused the {what} (HTTP {response.status}): "
                f"{response.error_text(600)}",
                reason="template",
            )

    async def _install_lifecycle(self, engine: Engine) -> str | None:
        """Install the ILM/ISM policy if needed; return the ILM name templates must carry."""
        if self.retention_days is None:
            self.lifecycle_status = "disabled"
            return None
        if engine.lifecycle is None:
            self.lifecycle_status = "unavailable"
            log.warning(
                "sink %s: %s has no %s: retention_days=%g is not enforced",
                self.name,
                engine,
                "ILM" if engine.product == "elasticsearch" else "ISM plugin",
                self.retention_days,
            )
            return None
        rollover = self.mode == "data_stream"
        name = self.policy_name
        if engine.lifecycle == "ilm":
            policy = ilm_policy(
                retention_days=self.retention_days, rollover=rollover, version=engine.version
            )
            response = await self._get(f"/_ilm/policy/{name}")
            current = response.json() if response.status == 200 else None
            existing = current.get(name, {}).get("policy") if isinstance(current, dict) else None
            wanted = policy["policy"].get("_meta", {}).get("fingerprint")
            if (
                isinstance(existing, dict)
                and wanted is not None
                and existing.get("_meta", {}).get("fingerprint") == wanted
            ):
                self.lifecycle_status = "unchanged"
            else:
                await self._put(f"/_ilm/policy/{name}", policy, f"ILM policy {name}")
                self.installed.append("ilm")
                self.lifecycle_status = "installed"
            return name
        patterns = [self.index] if rollover else [f"{self.index}-*"]
        policy = ism_policy(
            retention_days=self.retention_days, rollover=rollover, patterns=patterns
        )
        path = f"/_plugins/_ism/policies/{name}"
        response = await self._get(path)
        current = response.json() if response.status == 200 else None
        if (
            isinstance(current, dict)
            and current.get("policy", {}).get("description") == (policy["policy"]["description"])
        ):
            self.lifecycle_status = "unchanged"
            return None
        query = None
        if isinstance(current, dict) and "_seq_no" in current:
            # ISM updates are optimistic: they must name the version they replace.
            query = {
                "if_seq_no": str(current["_seq_no"]),
                "if_primary_term": str(current["_primary_term"]),
            }
        await self._put(path, policy, f"ISM policy {name}", query)
        self.installed.append("ism")
        self.lifecycle_status = "installed"
        return None

    async def _install_template(
        self, engine: Engine, ilm_name: str | None, flat_maps: bool
    ) -> None:
        data_stream = self.mode == "data_stream"
        body = index_template(
            patterns=[self.index] if data_stream else [f"{self.index}-*"],
            data_stream=data_stream,
            flat_type=engine.flat_type if flat_maps else None,
            shards=self.shards,
            replicas=self.replicas,
            priority=self.template_priority,
            ilm_policy=ilm_name,
        )
        name = self.template_name
        response = await self._get(f"/_index_template/{name}")
        current = response.json() if response.status == 200 else None
        templates = current.get("index_templates") if isinstance(current, dict) else None
        if isinstance(templates, list) and templates:
            meta = templates[0].get("index_template", {}).get("_meta", {})
            if meta.get("fingerprint") == body["_meta"]["fingerprint"]:
                return
        await self._put(f"/_index_template/{name}", body, f"index template {name}")
        self.installed.append("template")
