"""``python -m kubevents.testenv``: run a local cluster until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from . import KUBE_VERSION, LocalCluster, ensure_binaries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kubevents.testenv",
        description=f"Run a local etcd + kube-apiserver {KUBE_VERSION} until SIGINT/SIGTERM.",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="directory for data, certs, logs and kubeconfigs (default: a temp dir, removed)",
    )
    parser.add_argument(
        "--watch-cache-for-events",
        action="store_true",
        help="serve Events from the apiserver watch cache (off by default upstream)",
    )
    args = parser.parse_args(argv)

    # Before the handlers below: Ctrl-C during a long build should just abort it.
    binaries = ensure_binaries()

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with LocalCluster(
        args.workdir, watch_cache_for_events=args.watch_cache_for_events, binaries=binaries
    ) as cluster:
        print(
            f"kube-apiserver {KUBE_VERSION} ready at {cluster.url} in {cluster.start_seconds:.1f}s"
        )
        print(f"workdir:            {cluster.workdir}")
        print(f"kubeconfig (admin): {cluster.kubeconfig}")
        print(f"kubeconfig (limited user, events only): {cluster.kubeconfig_limited}")
        print(f"etcd:               {cluster.etcd_url}")
        print(f"export KUBECONFIG={cluster.kubeconfig}", flush=True)
        while not stop.wait(0.5):
            if not cluster.running:
                print("a control-plane process exited:", file=sys.stderr)
                print(cluster._logs_summary(), file=sys.stderr)
                return 1
        print("stopping ...", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
