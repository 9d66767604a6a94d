"""A real local Kubernetes control plane (etcd + kube-apiserver) for tests and demos.

Stdlib only on purpose: it must not import the ``kubernetes`` package, so that the code under
test and the harness that checks it cannot share a bug.

    from kubevents.testenv import LocalCluster

    with LocalCluster() as cluster:
        print(cluster.kubeconfig)

or ``python -m kubevents.testenv`` to keep one running for manual use.
"""

from ._build import ETCD_VERSION, KUBE_VERSION, Binaries, ensure_binaries
from ._cluster import LIMITED_USER, LIMITED_VERBS, LocalCluster

__all__ = [
    "ETCD_VERSION",
    "KUBE_VERSION",
    "LIMITED_USER",
    "LIMITED_VERBS",
    "Binaries",
    "LocalCluster",
    "ensure_binaries",
]
