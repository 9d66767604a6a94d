"""The workload builders live in ``bench/`` (the enrichment benchmark uses them too); pytest
only puts ``tests/`` on the path."""

from __future__ import annotations

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[3])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)
