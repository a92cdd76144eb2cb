"""Automation: ``nox -s tests lint typecheck docs`` is what CI runs.

The benchmarks run from the checkout (``python -m benchmarks SET``, see
docs/performance.md; ``python -m benchmarks --help`` lists the sets);
``nox -s bench`` installs the ``bench`` extra and runs ``bench``, or the set
its first argument names:

* ``nox -s bench -- --quick``: trio_zmq side by side with the other ways to
  use pyzmq, against a peer process (``python -m benchmarks bench --quick``);
* ``nox -s bench -- wake --quick``: wake-up-bound services in one process;
* ``nox -s bench -- costs --quick``: microseconds per call in one process;
* ``nox -s bench -- engines --quick``: the engine's trio and anyio paths;
* ``nox -s bench -- poller --quick``, ``proxy --quick``, ``auth --quick``,
  ``monitor --quick``: the poller, the proxy, the ZAP authenticator, an
  unread monitor, each beside pyzmq's;
* ``nox -s bench -- instructions --only busy``: instructions per job under
  valgrind (needs valgrind);
* ``nox -s bench -- syscalls --quick``: system calls per job under strace
  (needs strace).

``nox -s soak -- --minutes 30`` runs the soak across test hosts in network
namespaces (as root; CI runs one minute): see docs/reliability.md.
"""

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
    """mypy --strict over the package, the tests, the docs' Python and this file."""
    session.install("-e", ".[test,docs]", "mypy>=1.10", "nox>=2024.4")
    session.run("mypy", "--strict")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML documentation into docs/_build/html, warnings as errors.

    From scratch (``-E``), so that the check that every public name is
    documented runs every time; no network is needed (no intersphinx).
    """
    session.install("-e", ".[docs]")
    session.run(
        "sphinx-build",
        "-E",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "docs",
        "docs/_build/html",
        *session.posargs,
    )


@nox.session
def demo(session: nox.Session) -> None:
    """Run the main job, ``trio-zmq demo``."""
    session.install(".")
    session.run("trio-zmq", "demo", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """The soak across test hosts (root, iproute2): ``nox -s soak -- --minutes 30``
    (``python -m tests.faults.soak --help``; see docs/reliability.md)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "tests.faults.soak", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run ``python -m benchmarks bench`` with the arguments, or the set the
    first one names (``nox -s bench -- wake --quick``)."""
    session.install(".[bench]")
    args = list(session.posargs)
    if not args or args[0].startswith("-"):
        args.insert(0, "bench")
    session.run("python", "-m", "benchmarks", *args)
