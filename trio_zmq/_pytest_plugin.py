"""trio_zmq's pytest plugin (entry point ``trio_zmq``): contexts, socket pairs, faulty links.

Loaded by pytest for every project that installs trio_zmq, so it imports
neither hypothesis nor anything heavy.  The fixtures are async: use them
with pytest-trio (``trio_mode = true``).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from ._socket._context import Context
from ._socket._socket import Socket

if TYPE_CHECKING:
    from .testing._faulty_link import FaultyLink

PairFactory = Callable[..., contextlib.AbstractAsyncContextManager[tuple[Socket, Socket]]]
LinkFactory = Callable[[str], Awaitable["FaultyLink"]]


@pytest.fixture
async def zmq_context() -> AsyncIterator[Context]:
    """A :class:`trio_zmq.Context` with LINGER 0, closed after the test."""
    async with Context(linger=0) as context:
        yield context


@pytest.fixture
def zmq_ipc_dir() -> Iterator[str]:
    """A temporary directory for ipc endpoints."""
    with tempfile.TemporaryDirectory(prefix="trio-zmq-") as path:
        yield path


@pytest.fixture
def zmq_socket_pair(zmq_context: Context, zmq_ipc_dir: str) -> PairFactory:
    """Factory: ``async with zmq_socket_pair(zmq.PULL, zmq.PUSH, "tcp") as (a, b)``."""
    from .testing._pairs import socket_pair

    def factory(
        bind_type: int, connect_type: int, transport: str = "inproc", **kwargs: object
    ) -> contextlib.AbstractAsyncContextManager[tuple[Socket, Socket]]:
        return socket_pair(
            bind_type,
            connect_type,
            transport,
            context=zmq_context,
            ipc_dir=zmq_ipc_dir,
            **kwargs,  # type: ignore[arg-type]
        )

    return factory


@pytest.fixture
async def zmq_faulty_link() -> AsyncIterator[LinkFactory]:
    """Factory: ``link = await zmq_faulty_link("tcp://127.0.0.1:5555")``.

    Each link is a :func:`trio_zmq.testing.faulty_link` running in the
    fixture's task group until the test is over; then every link closes,
    also stalled ones.  A bad target raises at the call.
    """
    import anyio
    import anyio.abc

    from .testing._faulty_link import faulty_link

    async def serve(target: str, *, task_status: anyio.abc.TaskStatus[FaultyLink]) -> None:
        async with faulty_link(target) as link:
            task_status.started(link)
            await anyio.sleep_forever()

    async with anyio.create_task_group() as task_group:

        async def factory(target: str) -> FaultyLink:
            link: FaultyLink = await task_group.start(serve, target)
            return link

        yield factory
        task_group.cancel_scope.cancel()
