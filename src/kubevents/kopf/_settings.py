"""The part of kopf's ``OperatorSettings`` that ``kubevents.kopf`` reads, typed narrowly.

kopf is not imported: its settings are read by attribute, so this package works (and its
tests run) wherever kopf is, without making kopf a dependency of kubevents.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

__all__ = ["PostingSettings", "posting_of"]


class PostingSettings(Protocol):
    """kopf's ``settings.posting``."""

    enabled: bool
    loggers: bool
    level: int
    reporting_component: str
    reporting_instance: str


def posting_of(settings: Any) -> PostingSettings:
    """``settings.posting``, checked to have what kopf 1.45 has."""
    posting = getattr(settings, "posting", None)
    missing = [
        name
        for name in ("enabled", "loggers", "level", "reporting_component", "reporting_instance")
        if not hasattr(posting, name)
    ]
    if missing:
        raise TypeError(f"not kopf's OperatorSettings: settings.posting lacks {', '.join(missing)}")
    return cast(PostingSettings, posting)
