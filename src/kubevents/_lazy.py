"""Re-exports a package loads on first use (PEP 562), so that importing it costs only what
is used: ``kubevents export`` with one Kafka sink never imports the search sink's templates,
the SQLite store's readers or the recorder behind the heartbeat.

A package lists its lazy names with the modules that define them and installs the hook only
at run time; its ``if TYPE_CHECKING:`` imports of the same names are what mypy and the import
contracts read::

    if TYPE_CHECKING:
        from kubevents.export._service import Exporter
    else:
        __getattr__ = lazy_exports(__name__, {"Exporter": "kubevents.export._service"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: ``exports`` maps a name to its module."""

    def getattr_(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        # Once loaded it is an ordinary attribute: later lookups do not come here.
        setattr(sys.modules[package], name, value)
        return value

    return getattr_
