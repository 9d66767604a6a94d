"""The chaos driver lives in ``bench/`` (``make chaos`` runs it at full size); pytest only puts
``tests/`` on the path."""

from __future__ import annotations

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)
