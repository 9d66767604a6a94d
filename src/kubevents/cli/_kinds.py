"""Object kinds as ``kubectl events --for`` takes them: short names and plurals."""

from __future__ import annotations

__all__ = ["canonical_kind"]

# kubectl's short names and plurals of the kinds that emit most events. Without an API server
# to ask, anything else is matched as typed (case-insensitively).
_KIND_ALIASES = {
    alias: kind
    for kind, aliases in {
        "Pod": "po pods",
        "Node": "no nodes",
        "Deployment": "deploy deployments",
        "ReplicaSet": "rs replicasets",
        "StatefulSet": "sts statefulsets",
        "DaemonSet": "ds daemonsets",
        "Job": "jobs",
        "CronJob": "cj cronjobs",
        "Service": "svc services",
        "Endpoints": "ep",
        "Namespace": "ns namespaces",
        "PersistentVolumeClaim": "pvc persistentvolumeclaims",
        "PersistentVolume": "pv persistentvolumes",
        "ConfigMap": "cm configmaps",
        "Secret": "secrets",
        "Ingress": "ing ingresses",
        "HorizontalPodAutoscaler": "hpa horizontalpodautoscalers",
        "ServiceAccount": "sa serviceaccounts",
        "ReplicationController": "rc replicationcontrollers",
        "PodDisruptionBudget": "pdb poddisruptionbudgets",
    }.items()
    for alias in [kind.lower(), *aliases.split()]
}


def canonical_kind(value: str) -> str:
    """The kind for a kubectl-style name (``po``, ``pods``, ``deployments.apps``), else as typed."""
    base = value.split(".", 1)[0]  # "deployments.apps" -> "deployments"
    return _KIND_ALIASES.get(base.lower(), base)
