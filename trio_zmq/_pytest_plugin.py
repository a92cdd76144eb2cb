"""trio_zmq's pytest plugin (entry point ``trio_zmq``): context and socket-pair fixtures.

Loaded by pytest for every project that installs trio_zmq, so it imports
neither hypothesis nor anything heavy.  The fixtures are async: use them
with pytest-trio (``trio_mode = true``).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from ._socket._context import Context
from ._socket._socket import Socket

PairFactory = Callable[..., contextlib.AbstractAsyncContextManager[tuple[Socket, Socket]]]


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
