"""The benchmarks' framework: implementations, workloads, interleaved rounds, rows.

Every benchmark is a :class:`WorkloadSet`: a list of :class:`Implementation`
objects (the rows of its tables), a plan of :class:`Workload` objects (its
tables, made from the command line's options by
:meth:`WorkloadSet.workloads`)
and a trial that runs one workload under one implementation and returns its
figure (:meth:`WorkloadSet.trial`, or :meth:`WorkloadSet.session` when
the trials share something open for the whole run).  The framework does the rest, the same
way for every set:

* :func:`run_rounds`: every round runs every workload under every
  implementation that applies, the implementations taking turns in an order
  rotated by one each round, so that a slow spell of the (shared, 2-core)
  machine hits them all alike;
* :func:`summarize`: a :class:`Row` per implementation and workload, with
  its figure per round, the median over the rounds and the best round;
* :mod:`benchmarks.report` turns the rows into text, JSON and a chart, with
  ratios within the run against the set's baselines.

Adding an implementation is adding an :class:`Implementation` to a set's
list; adding a workload is adding a :class:`Workload` to its plan.  A set
states where a pair does not apply (:meth:`WorkloadSet.applies`).

A trial that cannot finish raises :exc:`TrialTimeout` (the run fails with
one line saying where), one whose implementation cannot run here raises
:exc:`TrialUnavailable` (its rows say why, and the run goes on).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import gc
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Generic, TypeVar, final

#: What a set's implementation carries: how it runs a trial.
R = TypeVar("R")
#: What a set's workload carries: its parameters.
P = TypeVar("P")

#: The folder of the checkout: where ``python -m benchmarks`` runs a child from.
CHECKOUT = Path(__file__).resolve().parent.parent


class BenchmarkError(Exception):
    """The run cannot finish; the message says where and why."""


class TrialTimeout(BenchmarkError):
    """A trial did not finish before its deadline: a peer is stuck, or too slow."""


class TrialUnavailable(Exception):
    """The implementation cannot run here; the message (``n/a: ...``) says why.

    Its rows show the reason instead of figures, and the run goes on without it.
    """


def timed_out(timeout: float) -> TrialTimeout:
    """The error of a trial that passed its deadline of ``timeout`` seconds."""
    return TrialTimeout(f"not done within {timeout:g} s (--timeout sets the limit)")


def progress(text: str) -> None:
    """One line of progress on stderr, at once (the report goes to stdout)."""
    print(text, file=sys.stderr, flush=True)


@final
@dataclasses.dataclass(frozen=True)
class Implementation(Generic[R]):
    """One row of every table of a set: what is compared.

    ``run`` is whatever the set's trial needs to run a workload this way.
    ``missing`` says why it cannot run here (an optional module is not
    installed): its rows then show that instead of figures.
    """

    key: str
    label: str
    run: R
    missing: str | None = None


@final
@dataclasses.dataclass(frozen=True)
class Workload(Generic[P]):
    """One table: a measurement every applicable implementation makes."""

    key: str
    title: str
    #: What the figure is ("msg/s", "µs per call"...).
    unit: str
    #: What the set's trial needs to run it.
    params: P
    #: What ``--only`` picks it by (besides its key).
    group: str
    higher_is_better: bool = True
    #: How the table prints a figure.
    fmt: str = ",.0f"
    #: A few words after the title: how much one trial does.
    detail: str = ""
    #: Run in the first this many rounds only (None: every round).
    rounds: int | None = None
    #: Whether the table has ratios to the baselines (and the chart a bar).
    ratios: bool = True
    #: A few words for the chart's axis (the title if empty).
    short: str = ""
    #: More about it, for the JSON file.
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: Whether the table quotes the extra figures' best rounds beside their
    #: medians (else their medians only, for many extras).
    extras_best: bool = True

    @property
    def label(self) -> str:
        return self.short or self.title


@final
@dataclasses.dataclass(frozen=True)
class Sample:
    """What one trial measured: its figure, and named extra figures (a p99)."""

    value: float
    extras: Mapping[str, float] = dataclasses.field(default_factory=dict)


#: Runs one workload under one implementation; its figure.
Trial = Callable[[Workload[P], Implementation[R]], float | Sample]


@final
@dataclasses.dataclass(frozen=True)
class Plan(Generic[P]):
    """What a run does: the workloads (in report order) and how many rounds."""

    workloads: Sequence[Workload[P]]
    rounds: int
    #: Seconds a trial may take.
    timeout: float
    #: The options, for the JSON file.
    options: Mapping[str, Any]
    #: Lines the report quotes before its tables (a limit that applied).
    notes: tuple[str, ...] = ()


class WorkloadSet(Generic[P, R]):
    """A benchmark: ``python -m benchmarks NAME``.

    A subclass names itself and its implementations, makes the workloads
    from the command line, and runs one trial; it may add options, say where
    a workload does not apply, and add sections to the report and the JSON.
    """

    #: The subcommand.
    name: str
    #: One line for ``python -m benchmarks --help``.
    help: str
    #: What ``python -m benchmarks NAME --help`` says.
    description: str
    #: Every row, in table order (each round rotates this order).
    implementations: Sequence[Implementation[R]]
    #: (implementation key, column heading) of each row the tables compare with.
    baselines: Sequence[tuple[str, str]] = ()
    #: Workload groups ``--only`` picks from.
    groups: Sequence[str] = ()
    rounds: int = 5
    quick_rounds: int = 2
    #: What ``--quick`` does, for its help.
    quick_help: str = "a smoke run of a few seconds"
    timeout: float = 60.0
    #: The arguments of ``--child`` (a process the set runs itself as), or None.
    child_usage: tuple[str, ...] | None = None

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the set's own options to its subcommand's parser."""

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> Sequence[Workload[P]]:
        """Every workload the options make, in report order (``--only`` is
        applied after); a limit that changed them is a line added to ``notes``.
        ``args.rounds`` and ``args.timeout`` are set (``--quick`` applied)."""
        raise NotImplementedError

    def session(self, plan: Plan[P]) -> AbstractContextManager[Trial[P, R]]:
        """What runs the trials, open for the whole run (a peer process,
        keys on disk...): by default :meth:`trial` with ``plan``."""
        return contextlib.nullcontext(functools.partial(self.trial, plan))

    def trial(
        self, plan: Plan[P], workload: Workload[P], impl: Implementation[R]
    ) -> float | Sample:
        """Run ``workload`` under ``impl`` once; its figure."""
        raise NotImplementedError

    def applies(self, workload: Workload[P], impl: Implementation[R]) -> bool | str:
        """Whether ``impl`` runs ``workload``: True, False (no row), or the
        text its row shows instead (why it does not)."""
        return True

    def sections(self, plan: Plan[P], tables: Tables) -> list[str]:
        """Text the report adds after the tables."""
        return []

    def records(self, plan: Plan[P], tables: Tables) -> dict[str, Any]:
        """What the JSON file adds to its document."""
        return {}

    def child(self, argv: Sequence[str]) -> int:
        """Run as ``--child ARGS`` (see :attr:`child_usage`); the exit status."""
        raise NotImplementedError


def child_command(set_name: str, *argv: str) -> list[str]:
    """The command line that runs ``set_name``'s child with ``argv``
    (run it with ``cwd=CHECKOUT``)."""
    return [sys.executable, "-m", "benchmarks", set_name, "--child", *argv]


def run_child(
    set_name: str, argv: Sequence[str], timeout: float, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``set_name``'s child with ``argv`` (behind ``prefix``, a tool
    that runs it) to its end; what it printed.

    Raises:
      TrialTimeout: it ran longer than ``timeout`` seconds (it is killed).
      BenchmarkError: it failed.
    """
    command = [*prefix, *child_command(set_name, *argv)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, cwd=CHECKOUT
        )
    except subprocess.TimeoutExpired:
        raise timed_out(timeout) from None
    if done.returncode != 0:
        raise BenchmarkError(f"the child process failed: {done.stderr.strip()[-500:]}")
    return done


# ----------------------------------------------------------------------
# Running the rounds
# ----------------------------------------------------------------------


@dataclasses.dataclass
class Results:
    """Every round's sample per (workload key, implementation key), and the
    implementations that turned out unavailable, with the reason."""

    samples: dict[tuple[str, str], list[Sample]] = dataclasses.field(default_factory=dict)
    unavailable: dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0


def run_rounds(workload_set: WorkloadSet[P, R], plan: Plan[P]) -> Results:
    """Every round: every workload, every applicable implementation, in turn.

    Raises:
      BenchmarkError: a trial failed (the message says which, and in which round).
    """
    runnable = [impl for impl in workload_set.implementations if impl.missing is None]
    results = Results()
    started = time.perf_counter()
    with workload_set.session(plan) as trial:
        for round_index in range(plan.rounds):
            shift = round_index % max(1, len(runnable))
            order = runnable[shift:] + runnable[:shift]
            for workload in plan.workloads:
                if workload.rounds is None or round_index < workload.rounds:
                    _run_workload(workload_set, trial, workload, order, round_index, plan, results)
    results.seconds = time.perf_counter() - started
    return results


def _run_workload(
    workload_set: WorkloadSet[P, R],
    trial: Trial[P, R],
    workload: Workload[P],
    order: Sequence[Implementation[R]],
    round_index: int,
    plan: Plan[P],
    results: Results,
) -> None:
    """One round of ``workload``: each implementation once; a progress line."""
    figures = []
    for impl in order:
        if workload_set.applies(workload, impl) is not True or impl.key in results.unavailable:
            continue
        gc.collect()  # every trial starts with the same (empty) garbage
        try:
            outcome = trial(workload, impl)
        except TrialUnavailable as exc:
            results.unavailable[impl.key] = str(exc)
            progress(f"  {impl.label}, {workload.title}: {exc}; skipped from now on")
            continue
        except BenchmarkError as exc:
            raise BenchmarkError(
                f"{impl.label}, {workload.title}, round {round_index + 1}: {exc}"
            ) from exc
        sample = outcome if isinstance(outcome, Sample) else Sample(outcome)
        results.samples.setdefault((workload.key, impl.key), []).append(sample)
        figures.append(f"{impl.label} {sample.value:{workload.fmt}}")
    progress(
        f"  round {round_index + 1}/{plan.rounds}, {workload.title} ({workload.unit}): "
        + ", ".join(figures)
    )


# ----------------------------------------------------------------------
# Rows: one implementation on one workload, over the rounds
# ----------------------------------------------------------------------


@final
@dataclasses.dataclass(frozen=True)
class Row:
    """One implementation on one workload: its figure in each round.

    ``status`` is "ok", or why there are no figures.  ``extras`` holds each
    round's extra figures by name (a p99 beside a p50).
    """

    key: str
    label: str
    status: str = "ok"
    values: tuple[float, ...] = ()
    extras: Mapping[str, tuple[float, ...]] = dataclasses.field(default_factory=dict)
    higher_is_better: bool = True

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def best(self) -> float:
        return self._best(self.values)

    def extra_median(self, name: str) -> float:
        return statistics.median(self.extras[name])

    def extra_best(self, name: str) -> float:
        return self._best(self.extras[name])

    def _best(self, values: Sequence[float]) -> float:
        return max(values) if self.higher_is_better else min(values)

    def speed_ratio(self, other: Row, *, best: bool = False) -> float:
        """How many times faster than ``other`` (medians, or bests)."""
        mine, theirs = (self.best, other.best) if best else (self.median, other.median)
        return mine / theirs if self.higher_is_better else theirs / mine


#: Every table's rows, by workload key.
Tables = Mapping[str, Sequence[Row]]


def summarize(
    workload_set: WorkloadSet[P, R], workload: Workload[P], results: Results
) -> list[Row]:
    """The workload's rows, in table order."""
    rows = []
    for impl in workload_set.implementations:
        applies = workload_set.applies(workload, impl)
        if applies is False:
            continue
        if applies is not True:
            rows.append(Row(impl.key, impl.label, str(applies)))
            continue
        samples = results.samples.get((workload.key, impl.key))
        if impl.missing is not None:
            rows.append(Row(impl.key, impl.label, impl.missing))
        elif not samples:
            status = results.unavailable.get(impl.key, "n/a (did not run)")
            rows.append(Row(impl.key, impl.label, status))
        else:
            extras = {name: tuple(s.extras[name] for s in samples) for name in samples[0].extras}
            values = tuple(s.value for s in samples)
            rows.append(Row(impl.key, impl.label, "ok", values, extras, workload.higher_is_better))
    return rows


def find_row(rows: Sequence[Row], key: str) -> Row | None:
    """The row of implementation ``key``, if it has figures."""
    return next((row for row in rows if row.key == key and row.ok), None)


def select(workloads: Sequence[Workload[P]], only: frozenset[str]) -> list[Workload[P]]:
    """The workloads whose group or key is in ``only`` (all if it is empty)."""
    return [w for w in workloads if not only or w.group in only or w.key in only]
