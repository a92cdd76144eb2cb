"""``python -m benchmarks SET --chart PATH``: the run's medians as a PNG.

matplotlib is optional (``pip install 'trio-zmq[bench]'``): it is imported
only when a chart is asked for, and without it the run prints a note
instead of the chart.  One panel per kind of figure (see
:func:`benchmarks.report.chart_panels`), one bar per implementation per
workload, on a log scale.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .report import Panel


def write_chart(path: Path, panels: Sequence[Panel], title: str) -> str:
    """Draw the chart into ``path``; return a line saying what happened."""
    try:
        matplotlib = importlib.import_module("matplotlib")
        matplotlib.use("Agg")  # no display needed
        pyplot: Any = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        return f"no chart: matplotlib is not installed (pip install 'trio-zmq[bench]'): {path}"
    if not panels:
        return f"no chart: no figures to draw: {path}"
    labels = _labels(panels)
    colors = {label: pyplot.cm.tab20(index % 20) for index, label in enumerate(labels)}
    figure, axes = pyplot.subplots(
        len(panels), 1, figsize=(16, 5.5 * len(panels)), squeeze=False, layout="constrained"
    )
    for axis, panel in zip(axes[:, 0], panels, strict=True):
        _draw_panel(axis, panel, labels, colors)
    handles = [pyplot.Rectangle((0, 0), 1, 1, color=colors[label]) for label in labels]
    figure.legend(handles, labels, loc="outside lower center", ncols=4, fontsize="small")
    figure.suptitle(title, fontsize="medium")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return f"Chart: {path}"


def _labels(panels: Sequence[Panel]) -> list[str]:
    """Every implementation that has a figure anywhere, in table order."""
    labels: list[str] = []
    for panel in panels:
        for _, figures in panel.groups:
            labels.extend(label for label in figures if label not in labels)
    return labels


def _draw_panel(axis: Any, panel: Panel, labels: list[str], colors: dict[str, Any]) -> None:
    series = panel.groups
    width = 0.85 / len(labels)
    for offset, label in enumerate(labels):
        positions, heights = [], []
        for group, (_, figures) in enumerate(series):
            if label in figures:
                positions.append(group + (offset - (len(labels) - 1) / 2) * width)
                heights.append(figures[label])
        axis.bar(positions, heights, width, color=colors[label], label=label)
    axis.set_yscale("log")
    axis.set_ylabel(panel.ylabel)
    axis.set_xticks(range(len(series)))
    axis.set_xticklabels([_wrap(title) for title, _ in series], fontsize="x-small")
    axis.grid(axis="y", which="both", alpha=0.3)
    if panel.ratios:
        axis.axhline(1.0, color="black", linewidth=0.8)


def _wrap(title: str, width: int = 22) -> str:
    """Break a workload title into short lines for the axis."""
    lines, line = [], ""
    for word in title.replace(",", "").split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])
