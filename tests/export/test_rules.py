from __future__ import annotations

import fnmatch
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kubevents.export import EventFields, Rule, RuleSet, compile_rules
from kubevents.model import Event, EventSource, ObjectMeta, ObjectReference


def event(namespace: str = "shop", kind: str = "Pod", type_: str = "Warning",
          reason: str = "BackOff", message: str = "Back-off restarting",
          component: str = "kubelet", controller: str = "") -> EventFields:  # fmt: skip
    return EventFields.of(
        Event(
            metadata=ObjectMeta(namespace=namespace),
            involved_object=ObjectReference(kind=kind),
            type=type_,
            reason=reason,
            message=message,
            source=EventSource(component=component),
            reporting_controller=controller,
        )
    )


def test_no_rules_is_no_filter() -> None:
    assert compile_rules(RuleSet()) is None


def test_drop_rules_and_their_labels() -> None:
    decide = compile_rules(RuleSet(drop=[
        Rule(name="system", namespace=["kube-system", "kube-*"]),
        Rule(type="Normal", reason="Pulled"),
    ]))  # fmt: skip
    assert decide is not None
    assert decide(event(namespace="kube-public")) == "system"
    assert decide(event(type_="Normal", reason="Pulled")) == "drop[1]"
    assert decide(event(type_="Normal", reason="Started")) is None  # AND within a rule
    assert decide(event()) is None


def test_match_rules_keep_only_what_matches() -> None:
    decide = compile_rules(RuleSet(match=[Rule(message=r"Back-?off"), Rule(kind="Node")]))
    assert decide is not None
    assert decide(event()) is None
    assert decide(event(kind="Node", message="x")) is None
    assert decide(event(message="Started")) == "no_match"


def test_source_matches_component_or_reporting_controller() -> None:
    decide = compile_rules(RuleSet(drop=[Rule(source="noisy-*")]))
    assert decide is not None
    assert decide(event(component="noisy-operator")) == "drop[0]"
    assert decide(event(component="", controller="noisy-ctrl")) == "drop[0]"
    assert decide(event(component="kubelet")) is None


def test_globs_and_names_mix_and_empty_values_never_match() -> None:
    decide = compile_rules(RuleSet(drop=[
        Rule(name="any-ns", namespace="*", kind=["Node", "Pod*", "Job?"]),
        Rule(name="src", source=["*"], message="^$"),
    ]))  # fmt: skip
    assert decide is not None
    assert decide(event(kind="PodDisruptionBudget")) == "any-ns"
    assert decide(event(kind="Jobs")) == "any-ns"
    assert decide(event(kind="Job")) is None
    assert decide(event(namespace="", kind="Node")) is None  # "*" never matches an empty value
    assert decide(event(kind="Deployment", message="")) == "src"
    assert decide(event(kind="Deployment", message="", component="", controller="")) is None


# -- the compiled rules against a plain reading of the documented semantics ----------------

_WORDS = ["Pulled", "BackOff", "kube-system", "shop", "Pod", "Node", "Normal", "Warning", ""]
_PATTERNS = ["Pulled", "BackOff", "kube-*", "shop", "Pod", "No?e", "[NW]*", "*", "Warn*"]


def _reference(rules: RuleSet, e: EventFields) -> str | None:
    """Every rule tried in order, each field read and matched the obvious way."""

    def field(value: str, patterns: str | list[str] | None) -> bool:
        if patterns is None:
            return True
        listed = [patterns] if isinstance(patterns, str) else patterns
        return bool(value) and any(fnmatch.fnmatchcase(value, p) for p in listed)

    def matches(rule: Rule) -> bool:
        source = field(e.source.component, rule.source) or field(
            e.reporting_controller, rule.source
        )
        return (
            field(e.metadata.namespace, rule.namespace)
            and field(e.involved_object.kind, rule.kind)
            and field(e.type, rule.type)
            and field(e.reason, rule.reason)
            and (rule.source is None or source)
            and (rule.message is None or re.search(rule.message, e.message) is not None)
        )

    if rules.match and not any(matches(rule) for rule in rules.match):
        return "no_match"
    for i, rule in enumerate(rules.drop):
        if matches(rule):
            return rule.name or f"drop[{i}]"
    return None


_field = st.none() | st.sampled_from(_PATTERNS) | st.lists(st.sampled_from(_PATTERNS), min_size=1)
_rules = st.builds(
    Rule, namespace=_field, kind=_field, type=_field, reason=_field, source=_field,
    message=st.none() | st.sampled_from(["^Back", "off$", "x"]),
).filter(lambda r: any(getattr(r, f) is not None for f in Rule.__struct_fields__))  # fmt: skip
_events = st.builds(
    event,
    namespace=st.sampled_from(_WORDS),
    kind=st.sampled_from(_WORDS),
    type_=st.sampled_from(_WORDS),
    reason=st.sampled_from(_WORDS),
    message=st.sampled_from(["Back-off", "backoff", "", "x"]),
    component=st.sampled_from(_WORDS),
    controller=st.sampled_from(_WORDS),
)


@settings(max_examples=300)
@given(st.lists(_rules, max_size=5), st.lists(_rules, max_size=3), st.lists(_events, max_size=8))
def test_compiled_rules_agree_with_the_documented_semantics(
    drop: list[Rule], match: list[Rule], events: list[EventFields]
) -> None:
    rules = RuleSet(drop=drop, match=match)
    decide = compile_rules(rules)
    for e in events:
        expected = _reference(rules, e)
        assert (decide(e) if decide is not None else None) == expected
