"""resmo's kubernetes-event-exporter, built from its Go module for the exporter benchmarks.

``bench/kee`` is a wrapper module (go.mod and go.sum only, no code of ours or theirs): it pins
github.com/resmoio/kubernetes-event-exporter v1.6.1, the newest release the Go module proxy
serves (the v1.7 tag is not valid semver, so the proxy has no v1.7). The ES/OpenSearch sinks are
the same in both. The binary is cached by a hash of go.mod, go.sum and the Go version
(``xcheck.gobuild``).
"""

from __future__ import annotations

from pathlib import Path

from xcheck.gobuild import cached_go_build

__all__ = ["KEE_MODULE", "KEE_PACKAGE", "KEE_VERSION", "kee_binary"]

KEE_MODULE = Path(__file__).resolve().parent / "kee"
KEE_PACKAGE = "github.com/resmoio/kubernetes-event-exporter"
KEE_VERSION = "v1.6.1"


def kee_binary() -> Path:
    """The kubernetes-event-exporter binary, built on first use (about 2 minutes)."""
    return cached_go_build(KEE_MODULE, KEE_PACKAGE, "kubernetes-event-exporter", "bench-kee")
