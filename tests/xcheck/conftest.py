"""The parity harness lives in ``xcheck/`` at the repository root, next to its Go program and
traces (the benchmarks use it too); pytest only puts ``tests/`` on the path."""

from __future__ import annotations

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)
