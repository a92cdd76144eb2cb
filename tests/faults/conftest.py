"""Fixtures of the fault tests: test hosts in network namespaces, and the
figures (detection and recovery times) the tests measure.

``net`` gives each test two fresh hosts (``tests/netns.py``) and removes
them afterwards, also when the test fails.  Where namespaces cannot be made
(not root, no iproute2, not Linux) every test here fails with the reason
when ``TRIO_ZMQ_REQUIRE_PEERS=1`` (CI) and is skipped otherwise.

The figures are printed at the end of the run and written to
``bench-results/faults.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.netns import INSTALL, WHAT, Network, probe
from tests.peers import missing

FIGURES: dict[str, float] = {}
FIGURES_FILE = ROOT / "bench-results" / "faults.json"


@pytest.fixture(scope="session")
def netns_reason() -> str | None:
    """Why test hosts cannot be made here (None: they can); probed once."""
    return probe()


@pytest.fixture
def net(netns_reason: str | None) -> Iterator[Network]:
    """Two test hosts, removed after the test."""
    if netns_reason is not None:
        missing(f"{WHAT} ({netns_reason})", INSTALL)
    with Network(2) as network:
        yield network


@pytest.fixture
def figure() -> Iterator[dict[str, float]]:
    """Record a measured figure: ``figure["name"] = seconds``."""
    measured: dict[str, float] = {}
    yield measured
    FIGURES.update(measured)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault figures (seconds, unless named)")
    for name, value in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{name:<60} {value:8.3f}")
    path = Path(FIGURES_FILE)
    path.parent.mkdir(exist_ok=True)
    previous = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**previous, **FIGURES}, indent=2, sort_keys=True) + "\n")
    terminalreporter.write_line(f"written to {path}")
