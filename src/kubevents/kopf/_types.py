"""kopf's Event types on client-go's recorder, and kopf's object forms."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["KOPF_TYPES", "event_type_of_level", "walk"]

# client-go's recorder records only Normal and Warning (others are logged and dropped). kopf
# names the levels of its log postings; "Error" (kopf.exception, logger.error) and "Fatal"
# become Warning, "Debug" becomes Normal. Any other type reaches the recorder unchanged, which
# refuses it as client-go does.
KOPF_TYPES = {"Debug": "Normal", "Error": "Warning", "Fatal": "Warning"}


def event_type_of_level(levelno: int) -> str:
    """The type kopf gives a log record of ``levelno``, mapped as above."""
    return "Normal" if levelno <= logging.INFO else "Warning"


def walk(objs: Any) -> Iterator[Any]:
    """Each object in ``objs``, as kopf's ``dicts.walk``: a mapping (or any object that is not
    iterable, such as a client model) is one object; an iterable is walked, nested ones too."""
    if isinstance(objs, Mapping | str | bytes) or not isinstance(objs, Iterable):
        yield objs
        return
    for obj in objs:
        yield from walk(obj)
