"""Drop / match rules: which occurrences to export.

An occurrence is exported when it matches at least one ``match`` rule (if any are given) and
no ``drop`` rule. Within a rule every given field must match (AND); a field given as a list
matches any of its values (OR). Values are exact names or shell-style globs (``kube-*``);
``message`` is a regular expression searched in the message. Rules are validated at start.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence

import msgspec

from kubevents.model import Event

__all__ = ["Rule", "RuleSet", "compile_rules"]


class Rule(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str | None = None
    namespace: str | list[str] | None = None
    kind: str | list[str] | None = None
    type: str | list[str] | None = None
    reason: str | list[str] | None = None
    source: str | list[str] | None = None  # source.component or reportingController
    message: str | None = None  # a regular expression


class RuleSet(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    drop: list[Rule] = msgspec.field(default_factory=list)
    match: list[Rule] = msgspec.field(default_factory=list)


_Predicate = Callable[[Event], bool]


def _values(value: str | list[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _glob(patterns: list[str]) -> Callable[[str], bool]:
    exact = {p for p in patterns if not any(ch in p for ch in "*?[")}
    globs = [re.compile(fnmatch.translate(p)) for p in patterns if p not in exact]
    return lambda value: value in exact or any(g.match(value) for g in globs)


def _compile(rule: Rule, where: str) -> _Predicate:
    checks: list[_Predicate] = []
    for field, getter in (
        ("namespace", lambda e: [e.metadata.namespace]),
        ("kind", lambda e: [e.involved_object.kind]),
        ("type", lambda e: [e.type]),
        ("reason", lambda e: [e.reason]),
        ("source", lambda e: [e.source.component, e.reporting_controller]),
    ):
        patterns = _values(getattr(rule, field))
        if patterns is None:
            continue
        if not patterns or any(not p for p in patterns):
            raise ValueError(f"{where}.{field}: empty value")
        matches = _glob(patterns)
        checks.append(
            lambda e, g=getter, m=matches: any(m(v) for v in g(e) if v)  # type: ignore[misc]
        )
    if rule.message is not None:
        try:
            regex = re.compile(rule.message)
        except re.error as exc:
            raise ValueError(f"{where}.message: invalid regular expression: {exc}") from None
        checks.append(lambda e: regex.search(e.message) is not None)
    if not checks:
        raise ValueError(f"{where}: a rule needs at least one field to match")
    return lambda e: all(check(e) for check in checks)


def compile_rules(rules: RuleSet, where: str = "rules") -> Callable[[Event], str | None] | None:
    """A function giving the label of the rule that drops an Event, or None to export it."""
    drops: Sequence[tuple[str, _Predicate]] = [
        (r.name or f"drop[{i}]", _compile(r, f"{where}.drop[{i}]"))
        for i, r in enumerate(rules.drop)
    ]
    matches = [_compile(r, f"{where}.match[{i}]") for i, r in enumerate(rules.match)]
    if not drops and not matches:
        return None

    def decide(event: Event) -> str | None:
        if matches and not any(m(event) for m in matches):
            return "no_match"
        for label, predicate in drops:
            if predicate(event):
                return label
        return None

    return decide
