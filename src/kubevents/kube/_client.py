"""``KubeClient``: the one adapter through which kubevents talks to Kubernetes.

The client owns the connection (``Transport``) and hands out the typed APIs: ``events`` and
``events_v1`` (``_events``), ``leases`` (``_lease``); access reviews are here.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

import msgspec

from kubevents.errors import StatusError, UnexpectedObjectError
from kubevents.kube._config import ClusterConfig, load_config
from kubevents.kube._events import EventsAPI
from kubevents.kube._lease import LeasesAPI
from kubevents.kube._metadata import MetadataReader
from kubevents.kube._objects import ObjectsAPI
from kubevents.kube._transport import Transport
from kubevents.model import Event, EventsV1Event

__all__ = ["KubeClient"]

_R = TypeVar("_R", bound=msgspec.Struct)


class _AccessStatus(msgspec.Struct):
    allowed: bool = False


class _AccessReview(msgspec.Struct):
    status: _AccessStatus = msgspec.field(default_factory=_AccessStatus)


class _UserInfo(msgspec.Struct):
    username: str = ""


class _SelfSubjectStatus(msgspec.Struct):
    userInfo: _UserInfo = msgspec.field(default_factory=_UserInfo)  # noqa: N815 - wire name


class _SelfSubjectReview(msgspec.Struct):
    status: _SelfSubjectStatus = msgspec.field(default_factory=_SelfSubjectStatus)


class KubeClient:
    """An async client for the Event APIs of one cluster.

    ``KubeClient.connect()`` resolves kubeconfig / in-cluster / explicit settings;
    ``client.events`` is core/v1, ``client.events_v1`` is events.k8s.io/v1, ``client.leases``
    is coordination.k8s.io/v1.
    """

    def __init__(self, cluster: ClusterConfig) -> None:
        self.cluster = cluster
        self._transport = Transport(cluster)
        self.events: EventsAPI[Event] = EventsAPI(self._transport, "/api/v1", Event, "Event")
        self.events_v1: EventsAPI[EventsV1Event] = EventsAPI(
            self._transport, "/apis/events.k8s.io/v1", EventsV1Event, "Event"
        )
        self.leases = LeasesAPI(self._transport)
        self.objects = ObjectsAPI(self._transport)

    @classmethod
    async def connect(
        cls,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
        *,
        url: str | None = None,
        token: str | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        insecure_skip_tls_verify: bool = False,
        in_cluster: bool | None = None,
    ) -> KubeClient:
        cluster = await load_config(
            kubeconfig,
            context,
            url=url,
            token=token,
            ca_file=ca_file,
            insecure_skip_tls_verify=insecure_skip_tls_verify,
            in_cluster=in_cluster,
        )
        return cls(cluster)

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def metadata(self, group_version: str, resource: str) -> MetadataReader:
        """Metadata-only LIST and WATCH of ``resource`` (``pods`` of ``v1``)."""
        return MetadataReader(self._transport, group_version, resource)

    async def has_api(self, group_version: str) -> bool:
        """Whether the server serves ``group_version`` (e.g. ``events.k8s.io/v1``)."""
        path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        try:
            await self._transport.request("GET", path)
        except StatusError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    async def ensure_namespace(self, name: str) -> bool:
        """Create namespace ``name`` unless it exists; True if this call created it."""
        try:
            await self._transport.request(
                "POST", "/api/v1/namespaces", body={"metadata": {"name": name}}
            )
        except StatusError as exc:
            if exc.code == 409:
                return False
            raise
        return True

    async def can_i(
        self,
        verb: str,
        resource: str,
        *,
        group: str = "",
        namespace: str | None = None,
        name: str | None = None,
    ) -> bool:
        """Whether this identity may ``verb`` ``resource`` (a SelfSubjectAccessReview).

        ``namespace`` None asks about every namespace (what a cluster-wide list needs).
        """
        attributes = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attributes["namespace"] = namespace
        if name:
            attributes["name"] = name
        review = await self._review(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            {"resourceAttributes": attributes},
            _AccessReview,
        )
        return review.status.allowed

    async def whoami(self) -> str:
        """This identity's user name (a SelfSubjectReview), e.g. ``system:serviceaccount:ns:sa``."""
        review = await self._review(
            "authentication.k8s.io/v1", "SelfSubjectReview", None, _SelfSubjectReview
        )
        return review.status.userInfo.username

    async def _review(
        self, api_version: str, kind: str, spec: dict[str, Any] | None, answer: type[_R]
    ) -> _R:
        """Create a self-review object (nothing is stored) and decode the server's answer."""
        body: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
        if spec is not None:
            body["spec"] = spec
        path = f"/apis/{api_version}/{kind.lower()}s"
        data = await self._transport.request("POST", path, body=body)
        try:
            return msgspec.json.decode(data, type=answer)
        except msgspec.MsgspecError as exc:
            raise UnexpectedObjectError(f"undecodable {kind}: {exc}") from exc

    async def server_version(self) -> dict[str, Any]:
        data = await self._transport.request("GET", "/version")
        result: dict[str, Any] = msgspec.json.decode(data)
        return result
