"""One engine per libzmq socket, found by the socket's underlying handle.

Two Python objects can stand for one libzmq socket (a ``trio_zmq.Socket`` and
the ``zmq.Socket`` it wraps, or a pyzmq shadow socket).  They share the fd, so
they must share the engine too, or two tasks would wait on one fd.

New engines come from :func:`engine_factory`'s factory: the tests replace it
to run the property suite against deliberately broken engines, as trio's
``set_custom_socket_factory`` lets tests replace its sockets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import zmq

from . import _backend
from ._engine import Engine
from ._exceptions import closed_error

R = TypeVar("R")

_engines: dict[int, Engine] = {}
_make_engine: Callable[[zmq.Socket[Any]], Engine] = Engine


@contextlib.contextmanager
def engine_factory(factory: Callable[[zmq.Socket[Any]], Engine]) -> Iterator[None]:
    """Make the engines of sockets first used in the block with ``factory``
    (an :class:`Engine` subclass, typically); restore the previous factory
    after.  Engines made before the block keep their class."""
    global _make_engine
    saved = _make_engine
    _make_engine = factory
    try:
        yield
    finally:
        _make_engine = saved


def engine_for(zsock: zmq.Socket[Any]) -> Engine:
    """Return the engine of ``zsock``'s libzmq socket, creating it if needed.

    Raises:
      trio.ClosedResourceError: if the socket is closed.
    """
    if zsock.closed:
        raise closed_error()
    engine = _engines.get(zsock.underlying)
    if engine is None or engine.zsock.closed:
        # No engine yet, or a stale one whose socket was closed behind our
        # back and whose handle libzmq has since reused.
        engine = _make_engine(zsock)
        _engines[engine.handle] = engine
    return engine


def existing_engine(zsock: zmq.Socket[Any]) -> Engine | None:
    """The engine of ``zsock`` if it has one, without creating it."""
    engine = _engines.get(zsock.underlying)
    if engine is None or engine.zsock.closed:
        return None
    return engine


def call_and_serve(zsock: zmq.Socket[Any], function: Callable[..., R], *args: Any) -> R:
    """``function(*args)``, a zmq call on ``zsock`` made outside any engine
    (a probe's ZMQ_EVENTS read, starting a monitor); then, if tasks wait on
    the socket, its engine serves them from a fresh ZMQ_EVENTS read: the
    call may have consumed the fd's edge they sleep on."""
    try:
        return function(*args)
    finally:
        engine = existing_engine(zsock)
        if engine is not None:
            engine.after_operation()


def release(engine: Engine) -> None:
    """Forget ``engine`` (its socket is closing, or nobody waits on it)."""
    if _engines.get(engine.handle) is engine:
        del _engines[engine.handle]
    _backend.forget_fd(engine)


def release_if_idle(engine: Engine) -> None:
    """Forget an engine no trio_zmq.Socket owns once nobody waits on it.

    Engines of plain pyzmq sockets hold no state between waits, and keeping
    them would keep their sockets alive.
    """
    if not engine.pinned and not engine.busy and engine.watcher is None:
        release(engine)
