"""The version 1 store writer and the realistic stream live in ``bench/`` (the store benchmark
uses them too); pytest only puts ``tests/`` on the path."""

from __future__ import annotations

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[4])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)
