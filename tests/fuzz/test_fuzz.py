"""The fuzz suite at CI size: every target, mutational and property-based, zero escapes.

A fixed seed makes a failure reproducible: the report names the target, the exception, the
place it escaped from and the minimised input. ``make fuzz`` runs the same targets with a
random seed and about six times the cases (tests/fuzz/__main__.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from .engine import Target, fuzz
from .strategies import STRATEGIES
from .targets import CI_CASES, TARGETS

SEED = 20_260_115
EXAMPLES = 60  # generated inputs per target


@pytest.fixture(autouse=True)
def quiet() -> Iterator[None]:
    # Every malformed input is logged by design; a hundred thousand warnings help nobody.
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_mutants_escape_nothing(target: Target) -> None:
    outcome = fuzz(target, CI_CASES[target.name], SEED)
    assert outcome.cases == CI_CASES[outcome.target]
    crashes = "\n".join(c.describe() + "\n" + c.trace for c in outcome.crashes.values())
    assert not outcome.crashes, crashes
    # The seeds are valid input, and mutants still reach the code behind the decoders.
    assert outcome.accepted > len(target.seeds())


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_generated_input_escapes_nothing(target: Target) -> None:
    name = target.name
    with target.session() as run:

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(STRATEGIES[name])
        def check(data: bytes) -> None:
            run(data)

        check()
