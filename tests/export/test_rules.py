from __future__ import annotations

from kubevents.export import Rule, RuleSet, compile_rules
from kubevents.model import Event, EventSource, ObjectMeta, ObjectReference


def event(namespace: str = "shop", kind: str = "Pod", type_: str = "Warning",
          reason: str = "BackOff", message: str = "Back-off restarting",
          component: str = "kubelet", controller: str = "") -> Event:  # fmt: skip
    return Event(
        metadata=ObjectMeta(namespace=namespace),
        involved_object=ObjectReference(kind=kind),
        type=type_, reason=reason, message=message,
        source=EventSource(component=component), reporting_controller=controller,
    )  # fmt: skip


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
