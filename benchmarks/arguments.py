"""Options and argument types the benchmarks share."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path


def positive_float(text: str) -> float:
    """A number above zero."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value}")
    return value


def workload_groups(groups: Sequence[str]) -> Callable[[str], frozenset[str]]:
    """The type of ``--only``: comma-separated names out of ``groups``."""

    def parse(text: str) -> frozenset[str]:
        chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
        unknown = sorted(chosen - set(groups))
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"unknown group(s) {', '.join(unknown) or '(none)'}: "
                f"choose from {', '.join(groups)}"
            )
        return chosen

    return parse


def add_selection(parser: argparse.ArgumentParser, groups: Sequence[str], json: Path) -> None:
    """Add ``--only GROUP,...`` (out of ``groups``; none given: all) and
    ``--json PATH`` (``json`` by default), whose values are ``only`` and ``json``."""
    parser.add_argument(
        "--only",
        type=workload_groups(groups),
        default=frozenset(),
        metavar="GROUP[,GROUP...]",
        help=f"run only these workload groups: {', '.join(groups)} (all)",
    )
    parser.add_argument("--json", type=Path, default=json, help=f"results file ({json})")
