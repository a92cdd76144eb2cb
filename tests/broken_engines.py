"""Deliberately broken engines, for the property suite's test power.

A property suite that passes against a broken engine proves nothing, so
tests/property/test_property_power.py runs it against each engine here and
must find a counterexample; the tests of single promises run their
scenario against the variant that breaks it and check that it fails.  Each
breaks one promise of the engine by overriding one small named method of
:class:`trio_zmq._core._engine.Engine` (or, for the cancel rule, one step of
the backend), and is installed from here through the engine's seams --
:func:`trio_zmq._core._registry.engine_factory` and
:func:`trio_zmq._core._backend.installed` -- so that the library itself
holds no switch that exists only to break it.

The port and the channel views are final classes that the socket makes
itself, so their broken variants (:data:`METHODS`) replace one small named
method on the class for the duration of the block, as a planted bug would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import zmq

from trio_zmq._channels._channels import MessageReceiveChannel
from trio_zmq._core import _backend, _registry
from trio_zmq._core._engine import _HANDED, Attempt, Engine, WaitTag, read_events
from trio_zmq._socket._port import Port


class SkipReprobe(Engine):
    """Does not re-read ZMQ_EVENTS after the library's own operations."""

    __slots__ = ()

    def after_operation(self) -> None:
        pass


class WakeOne(Engine):
    """Serves only the head of a ready queue per look, however many waiters
    could proceed."""

    __slots__ = ()

    def _serve_queue(self, direction: int, events: int) -> tuple[bool, object]:
        queue = self.queues[direction]
        behind = list(queue)[1:]
        for waiter in behind:
            queue.remove(waiter)
        try:
            called, _ = super()._serve_queue(direction, events)
        finally:
            queue.extend(behind)
        # Claim the head served itself, so that serve() does not come back
        # for the rest.
        return called, _HANDED


class NoHandover(Engine):
    """Does not hand the fd over when the watcher leaves."""

    __slots__ = ()

    def _hand_over(self) -> None:
        pass


class NoNotifyClosing(Engine):
    """Does not tell the event loop that the fd is closing."""

    __slots__ = ()

    def _announce_close(self) -> None:
        pass


class NewcomerOvertakes(Engine):
    """Lets a newcomer try its operation while others wait ahead of it
    (unless the last operation in its direction slept: then it queues)."""

    __slots__ = ()

    def _ahead(self, direction: int) -> bool:
        return False


class NoWakePasson(Engine):
    """(anyio path) A task woken to serve itself but cancelled before it ran
    does not pass the wake-up on."""

    __slots__ = ()

    def _pass_wake_on(self) -> None:
        pass


class NowaitSkipsServe(Engine):
    """A ``*_nowait`` call (or NOBLOCK) that fails serves nobody, though its
    zmq call may have eaten the edge the other direction's waiters sleep on."""

    __slots__ = ()

    def after_failed_nowait(self) -> None:
        pass


class ReadyNowSkipsServe(Engine):
    """A probe-API wait that finds the socket ready at once serves nobody,
    though its ZMQ_EVENTS read may have eaten the other waiters' edge."""

    __slots__ = ()

    def ready_now(self, mask: int) -> int:
        return read_events(self.zsock) & mask


class StallWithoutPoke(Engine):
    """A head stuck although ZMQ_EVENTS says it may go on (see
    ``Engine._note_stall``) gets timed retries only from the watcher's next
    fd sleep: a watcher already asleep without a timeout is not poked."""

    __slots__ = ()

    def _note_stall(self, events: int, stalled: list[int]) -> None:
        # Engine._poke_watcher pokes only a watcher inside sleep_on_fd.
        sleeper, self.sleeper = self.sleeper, None
        try:
            super()._note_stall(events, stalled)
        finally:
            self.sleeper = sleeper


def _batch_error_raises_unless_again(exc: zmq.ZMQError, done: int) -> None:
    """(Port.batch_error) Only EAGAIN ends a batch with what it has: any
    other error is raised, and the messages taken or sent are lost with it."""
    if not done or exc.errno != zmq.EAGAIN:
        raise exc


async def _receive_held_before_checkpoint(
    self: MessageReceiveChannel[Any], max_items: int
) -> list[Any]:
    """(MessageReceiveChannel._receive_held) Takes the held error or
    messages first, then the checkpoint: a call cancelled there loses them."""
    try:
        return self._take_held(max_items)
    finally:
        await _backend.current().checkpoint()


class CheckpointAfterOperation(_backend.Wrapper):
    """A cancellable checkpoint after an operation that happened without
    waiting: a receive cancelled there drops its message, a send sends and
    raises Cancelled."""

    __slots__ = ()

    async def after_operation(self) -> None:
        await self.inner.checkpoint()


class CheckpointAfterWait(Engine):
    """The same after an operation that waited."""

    __slots__ = ()

    async def wait(
        self,
        attempt: Attempt,
        directions: tuple[int, ...],
        backend: _backend.Backend,
        is_probe: bool = False,
        tag: WaitTag | None = None,
    ) -> Any:
        result = await super().wait(attempt, directions, backend, is_probe, tag)
        await backend.checkpoint()
        return result


#: Each broken engine by name: an Engine subclass, a backend wrapper, or both.
ENGINES: dict[str, type[Engine]] = {
    "checkpoint_after_operation": CheckpointAfterWait,
    "skip_reprobe": SkipReprobe,
    "wake_one": WakeOne,
    "no_handover": NoHandover,
    "no_notify_closing": NoNotifyClosing,
    "newcomer_overtakes": NewcomerOvertakes,
    "no_wake_passon": NoWakePasson,
    "nowait_skips_serve": NowaitSkipsServe,
    "ready_now_skips_serve": ReadyNowSkipsServe,
    "stall_without_poke": StallWithoutPoke,
}
BACKENDS: dict[str, Callable[[_backend.Backend], _backend.Backend]] = {
    "checkpoint_after_operation": CheckpointAfterOperation,
}
#: Broken port and view methods: (class, method name, replacement).
METHODS: dict[str, tuple[type, str, object]] = {
    "batch_error_drops_taken": (
        Port,
        "batch_error",
        staticmethod(_batch_error_raises_unless_again),
    ),
    "held_taken_before_checkpoint": (
        MessageReceiveChannel,
        "_receive_held",
        _receive_held_before_checkpoint,
    ),
}
NAMES = sorted({*ENGINES, *BACKENDS, *METHODS})


@contextlib.contextmanager
def broken_engine(name: str | None) -> Iterator[None]:
    """Run the block with the broken engine ``name`` (sockets made in it get
    that engine; a broken backend or method applies to every operation in
    it); with None, the library as it is."""
    if name is None:
        yield
        return
    if name not in NAMES:
        raise ValueError(f"no broken engine {name!r}; there are {NAMES}")
    with contextlib.ExitStack() as stack:
        if name in METHODS:
            owner, method, replacement = METHODS[name]
            stack.callback(setattr, owner, method, owner.__dict__[method])
            setattr(owner, method, replacement)
        if name in ENGINES:
            stack.enter_context(_registry.engine_factory(ENGINES[name]))
        if name in BACKENDS:
            wrap = BACKENDS[name]
            stack.enter_context(
                _backend.installed(
                    trio_tasks=wrap(_backend.for_trio), other_tasks=wrap(_backend.for_others)
                )
            )
        yield
