"""Shared fixtures: a context, connected socket pairs over every transport,
and real peer processes.  Every socket here is a real libzmq socket.  The
plain helpers the test modules share (``bind``, ``pair``, ``Peer``,
``assert_idle``, ...) are in ``tests/helpers.py``.

Event loops.  A test module that sets ``pytestmark = ON_EVERY_LOOP`` is
written against anyio's API and runs three times, once per *flavour*:

* ``trio`` -- under pytest-trio; the engine takes its trio-native path (as
  it does for anyio code running on trio);
* ``asyncio`` -- under ``anyio.run(backend="asyncio")``; the engine takes
  its anyio path;
* ``trio-anyio-engine`` -- under pytest-trio, with the engine forced onto
  its anyio path: the same primitives as on asyncio, trio's scheduler.

The other modules test trio-specific promises (``trio.testing``'s checkpoint
assertions, MockClock) and run under pytest-trio only.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import tempfile
import threading
from collections.abc import Iterator

import anyio
import pytest

import trio_zmq
from trio_zmq._core import _backend
from trio_zmq.testing import unique_endpoint

from tests.helpers import Peer

TRANSPORTS = ["inproc", "ipc", "tcp"]
#: Liveness bound for terminating the ``ctx`` fixture's context.
TERM_BOUND = 10


FLAVOURS = ["trio", "asyncio", "trio-anyio-engine"]
ON_EVERY_LOOP = pytest.mark.usefixtures("flavour")


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> Iterator[str]:
    """Which event loop (and engine path) runs the test; see the module doc."""
    name = str(request.param)
    with _backend.force_anyio() if name == "trio-anyio-engine" else contextlib.nullcontext():
        yield name


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest-trio's trio_mode marks every async test as a trio test; the
    # asyncio flavour is run by pytest_pyfunc_call below instead.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("flavour") == "asyncio":
            item.own_markers = [m for m in item.own_markers if m.name != "trio"]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if pyfuncitem.funcargs.get("flavour") != "asyncio":
        return None
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    anyio.run(functools.partial(pyfuncitem.obj, **kwargs), backend="asyncio")
    return True


@pytest.fixture
def ctx() -> Iterator[trio_zmq.Context]:
    """A context whose sockets are closed (linger 0) and which is terminated
    after the test.  A plain fixture, so that it serves every event loop."""
    context = trio_zmq.Context(linger=0)
    try:
        yield context
    finally:
        context.close_sockets(linger=0)
        # Bounded: a socket the test left where close_sockets() cannot see it
        # (zmq.Socket(ctx.zmq_context, ...), another thread) must fail the
        # test, not hang the suite in zmq_ctx_term.
        term = threading.Thread(target=context.zmq_context.term, daemon=True)
        term.start()
        term.join(TERM_BOUND)
        assert not term.is_alive(), (
            f"zmq_ctx_term() still waits after {TERM_BOUND} s: the test left a socket "
            "open that close_sockets() cannot see"
        )


@pytest.fixture
def ipc_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="trio-zmq-test-") as path:
        yield path


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def endpoint(transport: str, ipc_dir: str) -> str:
    """A fresh endpoint *prefix* for ``transport`` (ipc: in the test's own
    directory); bind it with :func:`tests.helpers.bind`."""
    return unique_endpoint(transport, ipc_dir)


@pytest.fixture
def peer() -> Iterator[type[Peer]]:
    """Start peers with ``peer("push-seq", address, "1000")``; killed at teardown."""
    started: list[Peer] = []

    class _TrackedPeer(Peer):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield _TrackedPeer
    for p in started:
        p.kill()


@pytest.fixture
def inproc() -> str:
    """A fresh inproc endpoint."""
    return unique_endpoint("inproc")


# ----------------------------------------------------------------------
# Hypothesis profiles: TRIO_ZMQ_HYPOTHESIS_PROFILE=dev|ci (ci when CI is set)
# ----------------------------------------------------------------------

from hypothesis import HealthCheck, settings  # noqa: E402

_COMMON = {
    # Real I/O: example run times vary too much for deadlines to mean much.
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("dev", max_examples=15, **_COMMON)  # type: ignore[arg-type]
settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    print_blob=True,
    **_COMMON,  # type: ignore[arg-type]
)
PROFILE = os.environ.get("TRIO_ZMQ_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


def pytest_configure(config: pytest.Config) -> None:
    if PROFILE == "ci":
        # The ci profile prints hypothesis's per-test statistics.
        config.option.hypothesis_show_statistics = True


def pytest_report_header() -> str:
    return f"hypothesis profile: {PROFILE}"
