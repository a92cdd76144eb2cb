"""Test power: the property suite must catch each deliberately broken engine.

A property suite that passes against a broken engine proves nothing.  Each
variant in trio_zmq._core._chaos.BrokenVariant breaks one promise; here
hypothesis runs the same programs as test_properties.py against it and must
find a counterexample within the budget.
"""

from __future__ import annotations

import sys

import pytest
import trio
from hypothesis import Phase, example, given, settings

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

from .property_model import (
    Cancel,
    PeerSendsThen,
    Program,
    PropertyViolation,
    Settle,
    StartRecv,
    StartSend,
    broken_engine,
    programs,
    run_program,
)

VARIANTS = [
    "skip_reprobe",
    "wake_one",
    "no_handover",
    "checkpoint_after_recv",
    "no_notify_closing",
    "newcomer_overtakes",
]

#: A seed corpus, as fuzzers keep one: programs of shapes that random
#: generation reaches only rarely, replayed first (hypothesis's explicit
#: phase) before the generated ones.  wake_one needs a watcher waiting in
#: one direction while two or more waiters in the other become ready at once;
#: checkpoint_after_recv a cancellation between a receive and its task's
#: resumption.
CORPUS = [
    Program(
        topology="PAIR",
        transport="inproc",
        start="connected",
        hwm=(1, 1),
        steps=(
            StartSend("A", count=3),
            Settle(),
            StartRecv("A", tasks=2),
            Settle(),
            PeerSendsThen("B", "nothing", n=2),
            Settle(),
        ),
    ),
    # checkpoint_after_recv: a parked receiver served by another task's
    # operation (the probe), then cancelled before it resumes.
    Program(
        topology="PAIR",
        transport="inproc",
        start="connected",
        hwm=(1, 1),
        steps=(
            StartSend("B", count=3),
            Settle(),
            StartRecv("B"),
            Settle(),
            PeerSendsThen("A", "probe"),
            Cancel(1),
        ),
    ),
]

#: Examples hypothesis may try before we call the suite powerless.  Most
#: variants fall within a few hundred examples; ``wake_one`` needs a rarer
#: program -- a watcher waiting in one direction while two or more waiters
#: in the other become ready at once (parked senders behind a receiver when
#: a late peer connects) -- measured at one in several hundred examples.
BUDGET = 1000
BUDGETS = {"wake_one": 4000}


@pytest.mark.parametrize("variant", VARIANTS)
def test_property_suite_catches_broken_engine(variant: str) -> None:
    @settings(
        max_examples=BUDGETS.get(variant, BUDGET),
        phases=[Phase.explicit, Phase.generate],  # finding is enough: no shrinking
        derandomize=True,
        database=None,
        report_multiple_bugs=False,
    )
    @given(program=programs(["PAIR", "DEALER_ROUTER", "PUSH_PULL"], ["inproc"]))
    def check(program: Program) -> None:
        trio.run(run_program, program)

    for program in CORPUS:
        check = example(program=program)(check)
    with broken_engine(variant):
        try:
            check()
        except BaseException as exc:
            if not _is_violation(exc):
                raise  # a bug in the test, not a caught engine
            return
    pytest.fail(f"the property suite passed against the broken engine {variant!r}")


def _is_violation(exc: BaseException) -> bool:
    """A violation, or a group of them: hypothesis reports FlakyFailure (an
    exception group) when a broken engine's failure depends on timing that
    the replay did not reproduce, e.g. libzmq's reaper thread reusing an fd."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_violation(inner) for inner in exc.exceptions)
    return isinstance(exc, PropertyViolation | trio.TooSlowError)


def test_correct_engine_passes_the_same_budget() -> None:
    """The control: the same programs pass on the real engine."""

    @settings(max_examples=BUDGET // 4, derandomize=True, database=None)
    @given(program=programs(["PAIR", "DEALER_ROUTER", "PUSH_PULL"], ["inproc"]))
    def check(program: Program) -> None:
        trio.run(run_program, program)

    for program in CORPUS:
        check = example(program=program)(check)
    check()
