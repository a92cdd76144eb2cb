"""The test hosts themselves: removed when a test fails, and leftovers of a
run that died are removed by the next one (``tests/netns.py``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.netns import INSTALL, PREFIX, WHAT, Network, remove_leftovers, run
from tests.peers import missing


def state() -> str:
    """Every namespace, link and route this machine has, as text."""
    return run("ip", "netns", "list") + run("ip", "-o", "link", "show") + run("ip", "route", "show")


@pytest.fixture
def can_make_hosts(netns_reason: str | None) -> None:
    if netns_reason is not None:
        missing(f"{WHAT} ({netns_reason})", INSTALL)


@pytest.mark.usefixtures("can_make_hosts")
def test_hosts_are_removed_when_the_test_fails() -> None:
    made: list[str] = []

    def failing_test() -> None:
        with Network(2, tag="x") as net:
            made.extend(n for host in net.hosts for n in (host.name, host.near_link))
            made.append(" ".join(net.fence[1:]))  # the route: "10.x.y.0/24 metric <pid>"
            assert all(name in state() for name in made)
            raise RuntimeError("the test failed")

    with pytest.raises(RuntimeError, match="the test failed"):
        failing_test()
    after = state()
    assert len(made) == 5
    assert not [name for name in made if name in after]


@pytest.mark.usefixtures("can_make_hosts")
def test_leftovers_of_a_dead_run_are_removed() -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(gone.stdout)
    name, link = f"{PREFIX}{pid}h0", f"{PREFIX}{pid}r0"
    run("ip", "netns", "add", name)
    run("ip", "link", "add", link, "type", "veth", "peer", "name", f"{PREFIX}{pid}p0")
    assert name in state()
    removed = remove_leftovers()
    assert {name, link} <= set(removed)
    after = state()
    assert name not in after
    assert link not in after
