"""Argument types the benchmarks' options share (each error is one line)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TypeVar

from trio_zmq._cli._command import positive_int

T = TypeVar("T")

__all__ = ["choice_of", "listed", "positive_float", "positive_int"]


def positive_float(text: str) -> float:
    """A number above zero."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value}")
    return value


def choice_of(choices: Sequence[str]) -> Callable[[str], str]:
    """One name out of ``choices``."""

    def parse(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(
                f"unknown name {text!r}: choose from {', '.join(choices)}"
            )
        return text

    return parse


def listed(convert: Callable[[str], T]) -> Callable[[str], tuple[T, ...]]:
    """Comma-separated values, each of them ``convert``-ed; at least one."""

    def parse(text: str) -> tuple[T, ...]:
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if not parts:
            raise argparse.ArgumentTypeError("expected comma-separated values, got none")
        try:
            return tuple(convert(part) for part in parts)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None

    return parse
