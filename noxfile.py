"""Automation: ``nox -s tests lint typecheck`` is what CI runs."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite on every supported Python that is installed."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and this file."""
    session.install("-e", ".[test]", "mypy>=1.10", "nox>=2024.4")
    session.run("mypy", "--strict")


@nox.session
def demo(session: nox.Session) -> None:
    """Run the main job, ``trio-zmq demo``."""
    session.install(".")
    session.run("trio-zmq", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run ``trio-zmq bench`` (``nox -s bench -- --quick`` is the CI check)."""
    session.install(".[bench]")
    session.run("trio-zmq", "bench", *session.posargs)
