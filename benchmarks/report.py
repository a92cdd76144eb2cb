"""What a run's rows become: the report's text, the JSON file and the chart's figures.

Every figure is quoted as the median over the rounds and as the best round;
a ratio is the speed of a row relative to one of the set's baselines (>1 is
faster), median to median and, in brackets, best to best: only ratios
within one run compare, as the machine is shared and noisy.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .framework import Plan, Results, Row, Tables, Workload, WorkloadSet, find_row

NUMBER_WIDTH = 12


def ratio_cell(row: Row, reference: Row | None) -> str:
    """``row``'s speed relative to ``reference``: median (best), or "-"."""
    if reference is None:
        return "-"
    return f"{row.speed_ratio(reference):.2f}x ({row.speed_ratio(reference, best=True):.2f}x)"


def render_table(
    workload: Workload[Any], rows: Sequence[Row], baselines: Sequence[tuple[str, str]]
) -> str:
    """One workload's table: a row per implementation, figures and ratios."""
    better = "higher" if workload.higher_is_better else "lower"
    detail = f": {workload.detail}" if workload.detail else ""
    extras = list(dict.fromkeys(name for row in rows if row.ok for name in row.extras))
    kinds = ("median", "best") if workload.extras_best else ("median",)
    columns = [
        "median",
        "best",
        *(f"{name} {kind}" if workload.extras_best else name for name in extras for kind in kinds),
    ]
    references = (
        {heading: find_row(rows, key) for key, heading in baselines} if workload.ratios else {}
    )
    references = {heading: row for heading, row in references.items() if row is not None}
    width = max([len("implementation"), *(len(row.label) for row in rows)])
    ratio_width = max([17, *(len(heading) + 2 for heading in references)])
    heading = f"  {'implementation':<{width}}" + "".join(f"{c:>{NUMBER_WIDTH}}" for c in columns)
    lines = [
        f"{workload.title}{detail} ({workload.unit}, {better} is better)",
        heading + "".join(f"{h:>{ratio_width}}" for h in references),
    ]
    for row in rows:
        if not row.ok:
            lines.append(f"  {row.label:<{width}}  {row.status}")
            continue
        figures = [row.median, row.best]
        for name in extras:
            figures.append(row.extra_median(name))
            if workload.extras_best:
                figures.append(row.extra_best(name))
        cells = "".join(f"{value:>{NUMBER_WIDTH}{workload.fmt}}" for value in figures)
        cells += "".join(
            f" {ratio_cell(row, reference):>{ratio_width - 1}}" for reference in references.values()
        )
        lines.append(f"  {row.label:<{width}}{cells}")
    return "\n".join(lines)


def header(
    prog: str,
    plan: Plan[Any],
    results: Results,
    versions: str,
    baselines: Sequence[tuple[str, str]],
    implementations: Mapping[str, str],
) -> str:
    """The report's first lines: what ran, and how to read the ratios."""
    against = ", ".join(f"{heading!r} = {implementations[key]}" for key, heading in baselines)
    lines = [
        f"{prog}: {plan.rounds} rounds, {results.seconds:.1f} s; {versions}",
        "Figures: median over the rounds and best round (implementations interleaved "
        "round by round).",
    ]
    if against:
        lines.append(
            f"Ratios: speed relative to the baseline (>1 is faster), median (best), "
            f"only comparable within one run: {against}."
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------
# JSON
# ----------------------------------------------------------------------


def _row_record(
    row: Row, rows: Sequence[Row], workload: Workload[Any], baselines: Sequence[str]
) -> dict[str, Any]:
    if not row.ok:
        return {"status": row.status, "label": row.label}
    record: dict[str, Any] = {
        "status": "ok",
        "label": row.label,
        "rounds": list(row.values),
        "median": row.median,
        "best": row.best,
    }
    for name in row.extras:
        record[name] = {
            "rounds": list(row.extras[name]),
            "median": row.extra_median(name),
            "best": row.extra_best(name),
        }
    if workload.ratios:
        for key in baselines:
            reference = find_row(rows, key)
            record[f"vs_{key}"] = (
                None
                if reference is None
                else {
                    "median": row.speed_ratio(reference),
                    "best": row.speed_ratio(reference, best=True),
                }
            )
    return record


def document(
    workload_set: WorkloadSet[Any, Any],
    plan: Plan[Any],
    tables: Tables,
    results: Results,
    environment: Mapping[str, Any],
) -> dict[str, Any]:
    """The run as JSON: options, every round's figures, medians, bests, ratios."""
    baselines = [key for key, _ in workload_set.baselines]
    return {
        "benchmark": workload_set.name,
        "environment": dict(environment),
        "options": dict(plan.options),
        "rounds": plan.rounds,
        "seconds": results.seconds,
        "notes": list(plan.notes),
        "implementations": {impl.key: impl.label for impl in workload_set.implementations},
        "baselines": baselines,
        "workloads": [
            {
                "key": workload.key,
                "title": workload.title,
                "group": workload.group,
                "unit": workload.unit,
                "higher_is_better": workload.higher_is_better,
                **workload.info,
                "results": {
                    row.key: _row_record(row, tables[workload.key], workload, baselines)
                    for row in tables[workload.key]
                },
            }
            for workload in plan.workloads
        ],
        **workload_set.records(plan, tables),
    }


def write_json(path: Path, content: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n")


# ----------------------------------------------------------------------
# The chart's figures
# ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Panel:
    """One panel of the chart: a group of bars per workload, log scale."""

    ylabel: str
    #: (workload label, {implementation label: figure}), in table order.
    groups: list[tuple[str, dict[str, float]]]
    #: Draw a line at 1 (the figures are ratios).
    ratios: bool


def chart_panels(
    workload_set: WorkloadSet[Any, Any], plan: Plan[Any], tables: Tables
) -> list[Panel]:
    """Speeds relative to the first baseline for the higher-is-better
    workloads; the figures themselves, a panel per unit, for the others."""
    baseline = next((key for key, _ in workload_set.baselines), None)
    label = {impl.key: impl.label for impl in workload_set.implementations}
    speeds = Panel(f"speed vs {label.get(baseline or '', '-')} (median, log scale)", [], True)
    by_unit: dict[str, Panel] = {}
    for workload in plan.workloads:
        rows = [row for row in tables[workload.key] if row.ok]
        if not workload.ratios or not rows:
            continue
        if workload.higher_is_better:
            reference = None if baseline is None else find_row(rows, baseline)
            if reference is not None:
                speeds.groups.append(
                    (workload.label, {r.label: r.speed_ratio(reference) for r in rows})
                )
            continue
        panel = by_unit.setdefault(
            workload.unit, Panel(f"{workload.unit} (median, log scale)", [], False)
        )
        panel.groups.append((workload.label, {r.label: r.median for r in rows}))
    return [panel for panel in (speeds, *by_unit.values()) if panel.groups]
