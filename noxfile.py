"""Automation: ``nox -s tests lint typecheck docs`` is what CI runs, with
``tests_lowest``, ``tests_newest`` and ``release``.

The declared versions are tested at both ends:

* ``nox -s tests_lowest``: exactly the lowest versions pyproject.toml allows
  (each ``>=`` bound of the dependencies and of the test extra, as ``==``)
  on the oldest supported Python;
* ``nox -s tests_newest``: everything upgraded, on the newest Python.

Each prints what it installed, then runs ``SUITE`` (or the pytest
arguments given after ``--``).  ``nox -s release`` builds the sdist and the
wheel into dist/, checks both with twine and installs the wheel.

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

import shutil
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

#: What tests_lowest and tests_newest run: the library's suites, the examples
#: against their real peers, the command line, the docs' snippets and the
#: packaging.  Left out: tests/benchmarks (the bench extra) and tests/faults
#: (root, network namespaces and minutes), which CI's main run has.
SUITE = (
    "tests/core",
    "tests/sockets",
    "tests/channels",
    "tests/property",
    "tests/tools",
    "tests/auth",
    "tests/testing",
    "tests/examples",
    "tests/cli",
    "tests/docs",
    "tests/test_libzmq.py",
    "tests/test_packaging.py",
)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite on every supported Python that is installed."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHONS[0])
def tests_lowest(session: nox.Session) -> None:
    """SUITE with the lowest versions pyproject.toml allows, on the oldest Python."""
    session.install("-e", ".[test]", *lowest_pins(session))
    show_versions(session)
    session.run("pytest", *(session.posargs or SUITE))


@nox.session(python=PYTHONS[-1])
def tests_newest(session: nox.Session) -> None:
    """SUITE with the newest versions of everything, on the newest Python."""
    session.install("--upgrade", "--upgrade-strategy", "eager", "pip")
    session.install("--upgrade", "--upgrade-strategy", "eager", "-e", ".[test]")
    show_versions(session)
    session.run("pytest", *(session.posargs or SUITE))


def lowest_pins(session: nox.Session) -> list[str]:
    """``NAME==VERSION`` for the dependencies and the test extra (with the
    project's own extras it names), each at its ``>=`` bound in pyproject.toml.

    A bound must name a real release: ``pytest-timeout>=2.3`` pins 2.3, and
    the install fails if there is none.
    """
    project = nox.project.load_toml("pyproject.toml")["project"]
    name = canonicalize_name(project["name"])
    pending, seen = ["test"], set()
    lines = list(project["dependencies"])
    while pending:
        extra = pending.pop()
        seen.add(extra)
        for line in project["optional-dependencies"][extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == name:
                pending += sorted(requirement.extras - seen)
            else:
                lines.append(line)
    pins = []
    for line in lines:
        requirement = Requirement(line)
        bounds = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if len(bounds) != 1:
            session.error(f"pyproject.toml: {line!r} needs one '>=' bound to test the lowest")
        marker = f"; {requirement.marker}" if requirement.marker else ""
        pins.append(f"{requirement.name}=={bounds[0]}{marker}")
    return pins


def show_versions(session: nox.Session) -> None:
    """Print what the session's virtualenv holds, and the libzmq pyzmq runs."""
    session.run("python", "-m", "pip", "list")
    session.run(
        "python", "-c", "import sys, zmq; print(sys.version, '/ libzmq', zmq.zmq_version())"
    )


@nox.session(reuse_venv=False)
def release(session: nox.Session) -> None:
    """Build the sdist and the wheel into dist/, ``twine check`` both, then
    install the wheel in a fresh virtualenv and import it from there (not
    from the checkout: ``python -I``)."""
    session.install("build>=1.2", "twine>=6.1")
    shutil.rmtree("dist", ignore_errors=True)
    session.run("python", "-m", "build")
    built = sorted(str(path) for path in Path("dist").iterdir())
    session.run("twine", "check", "--strict", *built)
    [wheel] = [path for path in built if path.endswith(".whl")]
    session.install(wheel)
    session.run("python", "-m", "pip", "check")
    session.run(
        "python",
        "-I",
        "-c",
        "import trio_zmq; print('trio_zmq', trio_zmq.__version__, 'from', trio_zmq.__file__)",
    )
    session.run("trio-zmq", "--help", silent=True)


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
