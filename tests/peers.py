"""Real third-party peers: find them, or say how to install them.

The example tests run against programs nobody on this project wrote
(Mongrel2, ipykernel, ...) and the fault tests need network namespaces.
When one is missing, :func:`require` fails the test with the command that
installs it if ``TRIO_ZMQ_REQUIRE_PEERS=1`` (``.ci/run`` sets it: in CI a
missing peer is a failure, never a silent skip); otherwise it skips with
the same message, so the README's test command still passes on a machine
that has only Python.
"""

from __future__ import annotations

import os
import shutil

import pytest

#: The environment variable that turns a missing peer into a failure.
REQUIRE_ENV = "TRIO_ZMQ_REQUIRE_PEERS"


def peers_required() -> bool:
    """Whether a missing peer fails the test (true in CI)."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def missing(what: str, install: str) -> None:
    """Fail or skip the calling test: ``what`` is missing; ``install`` fixes it."""
    message = f"{what} is missing; install it with: {install}"
    if peers_required():
        pytest.fail(f"{message}  ({REQUIRE_ENV}=1: a missing peer is a failure)")
    pytest.skip(f"{message}  (set {REQUIRE_ENV}=1 to make this a failure)")


def require_program(program: str, install: str) -> str:
    """The absolute path of ``program``, or fail/skip saying how to install it."""
    path = shutil.which(program)
    if path is None:
        missing(f"the program {program!r}", install)
        raise AssertionError("unreachable")  # pragma: no cover - missing() raised
    return path
