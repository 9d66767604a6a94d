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
from operator import attrgetter
from typing import TypeVar

import msgspec

from kubevents.export._fields import EventFields

__all__ = ["Filter", "Rule", "RuleSet", "compile_rules"]


class Rule(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One ``rules.drop`` or ``rules.match`` entry: every field given must match (a list is
    any of its values, each an exact name or a shell-style glob; ``message`` is a regular
    expression)."""

    name: str | None = None
    namespace: str | list[str] | None = None
    kind: str | list[str] | None = None
    type: str | list[str] | None = None
    reason: str | list[str] | None = None
    source: str | list[str] | None = None  # source.component or reportingController
    message: str | None = None  # a regular expression


class RuleSet(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``rules``: an Event that matches any ``drop`` rule is not exported; when ``match`` is
    not empty, only Events that match one of its rules are."""

    drop: list[Rule] = msgspec.field(default_factory=list)
    match: list[Rule] = msgspec.field(default_factory=list)


_T = TypeVar("_T")
#: A compiled rule set: the label of the rule that drops an Event, or None to export it.
Filter = Callable[[EventFields], str | None]
_Predicate = Callable[[EventFields], bool]
_Matcher = Callable[[str], bool]

# The fields a rule can name, with the Event values each one looks at. Rules run on every
# occurrence, so each check is a plain closure over one or two attribute reads: no per-event
# lists, generators or loops over patterns.
_SINGLE_VALUED: tuple[tuple[str, Callable[[EventFields], str]], ...] = (
    ("reason", attrgetter("reason")),
    ("type", attrgetter("type")),
    ("kind", attrgetter("involved_object.kind")),
    ("namespace", attrgetter("metadata.namespace")),
)
_GLOB_CHARS = "*?["


def _values(value: str | list[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _glob(patterns: list[str]) -> _Matcher:
    exact = frozenset(p for p in patterns if not any(ch in p for ch in _GLOB_CHARS))
    globs = [fnmatch.translate(p) for p in patterns if p not in exact]
    if not globs:
        return exact.__contains__
    # One alternation of the anchored translations matches exactly when one of them does.
    match = re.compile("|".join(globs)).match
    if not exact:
        return lambda value: match(value) is not None
    return lambda value: value in exact or match(value) is not None


def _field_check(get: Callable[[EventFields], str], matches: _Matcher) -> _Predicate:
    # An empty value never matches, whatever the pattern (``*`` included).
    def check(e: EventFields) -> bool:
        value = get(e)
        return bool(value) and matches(value)

    return check


def _source_check(matches: _Matcher) -> _Predicate:
    def check(e: EventFields) -> bool:
        component = e.source.component
        if component and matches(component):
            return True
        controller = e.reporting_controller
        return bool(controller) and matches(controller)

    return check


def _all(checks: list[_Predicate]) -> _Predicate:
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda e: first(e) and second(e)
    return lambda e: all(check(e) for check in checks)


def _patterns(rule: Rule, field: str, where: str) -> _Matcher | None:
    patterns = _values(getattr(rule, field))
    if patterns is None:
        return None
    if not patterns or any(not p for p in patterns):
        raise ValueError(f"{where}.{field}: empty value")
    return _glob(patterns)


def _compile(rule: Rule, where: str) -> _Predicate:
    # Validated in the documented field order, so the first bad field is the one reported.
    matchers = {
        field: _patterns(rule, field, where)
        for field in ("namespace", "kind", "type", "reason", "source")
    }
    # Every check is a pure test of the Event: checking the selective fields first changes
    # nothing but the time taken.
    ordered = [
        _field_check(get, matches)
        for field, get in _SINGLE_VALUED
        if (matches := matchers[field]) is not None
    ]
    if (source := matchers["source"]) is not None:
        ordered.append(_source_check(source))
    if rule.message is not None:
        try:
            search = re.compile(rule.message).search
        except re.error as exc:
            raise ValueError(f"{where}.message: invalid regular expression: {exc}") from None
        ordered.append(lambda e: search(e.message) is not None)
    if not ordered:
        raise ValueError(f"{where}: a rule needs at least one field to match")
    return _all(ordered)


# A rule's name is the ``rule`` label of a metric.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")


def _check_names(rules: RuleSet, where: str) -> None:
    for part, listed in (("drop", rules.drop), ("match", rules.match)):
        for i, rule in enumerate(listed):
            if rule.name is not None and (not _NAME.match(rule.name) or rule.name == "no_match"):
                raise ValueError(
                    f"{where}.{part}[{i}].name: {rule.name!r} is not a valid name (1-63 letters, "
                    "digits, - _ . :, not no_match; it is a metric label)"
                )


def _exact_reasons(rule: Rule) -> frozenset[str] | None:
    """The reasons an Event must have to match ``rule``; None when it names none or a glob."""
    reasons = _values(rule.reason)
    if reasons is None or any(ch in r for r in reasons for ch in _GLOB_CHARS):
        return None
    return frozenset(reasons)


def _by_reason(
    rules: Sequence[tuple[Rule, _T]],
) -> tuple[dict[str, tuple[_T, ...]], tuple[_T, ...]]:
    """For each reason a rule names exactly, the rules an Event with it can match, in order;
    and those an Event with any other reason can match (the rules naming no exact reason).

    An Event's reason then picks its few candidate rules with one lookup, instead of every
    rule being tried on every occurrence; the order, and so the first match, is unchanged.
    """
    exact = [(_exact_reasons(rule), value) for rule, value in rules]
    named = {reason for reasons, _ in exact if reasons is not None for reason in reasons}
    index = {
        reason: tuple(v for reasons, v in exact if reasons is None or reason in reasons)
        for reason in named
    }
    return index, tuple(v for reasons, v in exact if reasons is None)


def compile_rules(rules: RuleSet, where: str = "rules") -> Filter | None:
    """A function giving the label of the rule that drops an Event, or None to export it."""
    _check_names(rules, where)
    drops = [
        (r, (r.name or f"drop[{i}]", _compile(r, f"{where}.drop[{i}]")))
        for i, r in enumerate(rules.drop)
    ]
    matches = [(r, _compile(r, f"{where}.match[{i}]")) for i, r in enumerate(rules.match)]
    if not drops and not matches:
        return None
    drops_for, other_drops = _by_reason(drops)
    matches_for, other_matches = _by_reason(matches)

    def decide(event: EventFields) -> str | None:
        reason = event.reason
        if matches:
            for match in matches_for.get(reason, other_matches):
                if match(event):
                    break
            else:
                return "no_match"
        for label, predicate in drops_for.get(reason, other_drops):
            if predicate(event):
                return label
        return None

    return decide
