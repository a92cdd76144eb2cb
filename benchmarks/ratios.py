"""Summary tables of ratios between rows, and of a figure's spread over a count.

The wake sets (``wake``, ``instructions``, ``syscalls``) print, under their
per-workload tables, the ratios the project's targets are read from:

* :func:`render_ratios`: a line per workload, a column per :class:`Ratio`
  (one row against another, "tz-asyncio / zmq.asyncio"), each cell the
  ratio of the medians and, in brackets, of the best rounds;
* :func:`render_spread`: a line per implementation, its figure at each
  count of a workload family (idle pairs), and the ratio of the largest
  count's figure to the smallest's.

A ratio is a speed (:meth:`~benchmarks.framework.Row.speed_ratio`): above 1
the first row is faster or, for a count per job, does less per job.  A
column may have a target, a minimum for the median ratio; a cell below its
target is marked with :data:`MISSED`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from typing import Any, final

from .framework import Row, Tables, Workload, find_row

#: Marks a median ratio below its target.
MISSED = "*"
#: Width of a "1.02 (1.10)*" cell.
CELL = 13


@final
@dataclasses.dataclass(frozen=True)
class Ratio:
    """A column: row ``subject`` against row ``reference``, per workload."""

    heading: str
    subject: str
    reference: str
    #: The target: the median ratio is at least this (None: no target).
    minimum: float | None = None
    #: The workload groups the target applies to (empty: every workload).
    groups: tuple[str, ...] = ()

    def target(self, workload: Workload[Any]) -> float | None:
        """The minimum on ``workload``, if the target applies to it."""
        if self.groups and workload.group not in self.groups:
            return None
        return self.minimum

    def untargeted(self) -> Ratio:
        return dataclasses.replace(self, minimum=None, groups=())

    def describe(self) -> str:
        where = f" on {', '.join(self.groups)}" if self.groups else ""
        return f"{self.heading} >= {self.minimum:g}{where}"


def ratio_figures(subject: Row, reference: Row, minimum: float | None) -> dict[str, Any]:
    """The ratio of ``subject`` to ``reference`` as JSON: median, best,
    and whether the target (if any) is met."""
    median = subject.speed_ratio(reference)
    record: dict[str, Any] = {"median": median, "best": subject.speed_ratio(reference, best=True)}
    if minimum is not None:
        record["target"] = minimum
        record["met"] = median >= minimum
    return record


def _cell(figures: dict[str, Any] | None) -> str:
    if figures is None:
        return f"{'-':>{CELL}}"
    mark = MISSED if figures.get("met") is False else " "
    return f"{figures['median']:.2f} ({figures['best']:.2f}){mark}".rjust(CELL)


def _heading_lines(headings: Sequence[str], width: int) -> tuple[str, str]:
    """Each heading over two lines, split after its " / "."""
    tops, bottoms = [], []
    for heading in headings:
        top, slash, bottom = heading.partition(" / ")
        tops.append(f"{top + slash.rstrip():>{width}}")
        bottoms.append(f"{bottom:>{width}}")
    return "".join(tops), "".join(bottoms)


def render_ratios(
    title: str, workloads: Sequence[Workload[Any]], tables: Tables, ratios: Sequence[Ratio]
) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """The ratio table: the text (None if no workload has a ratio) and,
    for the JSON file, the figures by workload key and column heading."""
    records: dict[str, dict[str, Any]] = {}
    for workload in workloads:
        rows = tables.get(workload.key, ())
        for ratio in ratios:
            subject, reference = find_row(rows, ratio.subject), find_row(rows, ratio.reference)
            if subject is not None and reference is not None:
                records.setdefault(workload.key, {})[ratio.heading] = ratio_figures(
                    subject, reference, ratio.target(workload)
                )
    if not records:
        return None, records
    width = max(CELL, *(len(part) + 2 for r in ratios for part in r.heading.split(" / ")))
    names = max(len("workload"), *(len(key) for key in records))
    top, bottom = _heading_lines([r.heading for r in ratios], width)
    lines = [title, f"  {'':<{names}}{top}", f"  {'workload':<{names}}{bottom}"]
    for key, figures in records.items():
        cells = "".join(f"{_cell(figures.get(r.heading)):>{width}}" for r in ratios)
        lines.append(f"  {key:<{names}}{cells}".rstrip())
    shown = [w for w in workloads if w.key in records]
    targets = [r.describe() for r in ratios if any(r.target(w) is not None for w in shown)]
    if targets:
        lines.append(f"  {MISSED} marks a median below its target; the targets:")
        lines.extend(f"    {target}" for target in targets)
    return "\n".join(lines), records


def render_spread(
    title: str,
    counted: Sequence[tuple[int, Workload[Any]]],
    tables: Tables,
    minimum: float | None = None,
    subjects: Collection[str] = (),
) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """A figure at each count, per implementation, and the ratio of the
    largest count's to the smallest's (``counted``: (count, workload),
    fewest first); the text (None without two counts) and the ratios by
    implementation key.  The target ``minimum`` applies to the rows of
    ``subjects``."""
    if len(counted) < 2:
        return None, {}
    (few, first), (many, _) = counted[0], counted[-1]
    fmt = first.fmt
    keys = [row.key for row in tables.get(first.key, ()) if row.ok]
    labels = {row.key: row.label for row in tables.get(first.key, ())}
    width = max([len("implementation"), *(len(labels[key]) for key in keys)])
    column = 22
    spread = f"{many} vs {few}"
    lines = [
        title,
        f"  {'implementation':<{width}}"
        + "".join(f"{f'{count}':>{column}}" for count, _ in counted)
        + f"{spread:>{CELL + 2}}",
    ]
    records: dict[str, dict[str, Any]] = {}
    for key in keys:
        found = [find_row(tables.get(w.key, ()), key) for _, w in counted]
        cells = "".join(
            f"{f'{row.median:{fmt}} ({row.best:{fmt}})':>{column}}" if row else f"{'-':>{column}}"
            for row in found
        )
        figures = None
        if found[0] is not None and found[-1] is not None:
            figures = ratio_figures(found[-1], found[0], minimum if key in subjects else None)
            records[key] = figures
        lines.append(f"  {labels[key]:<{width}}{cells}  {_cell(figures)}".rstrip())
    if minimum is not None and subjects:
        targeted = ", ".join(labels.get(key, key) for key in subjects)
        lines.append(
            f"  target (median): {spread} >= {minimum:g} for {targeted}; "
            f"{MISSED} marks a median below it"
        )
    return "\n".join(lines), records
