"""Open and close 5000 sockets; nothing leaks.

A mix of socket types, some bound and connected over inproc, closed in every
way the library offers: ``close()``, ``aclose()``, leaving the ``async with``
of their Context, and ``close()`` while a task is blocked on the socket (the
task must be woken with ClosedResourceError).  Afterwards the process's open
fd count is back where it started and the engine registry has not grown.

The baseline is measured after a warm-up round that exercises every path
once, so lazily created trio/libzmq internals (trio's thread cache, the
reaper and I/O threads of a context, ...) are already there; after warm-up no
tolerance is allowed.  libzmq closes a socket's fds asynchronously (its reaper
thread finishes the close), so the baseline is taken once the count has been
stable for a moment, and the final count is awaited with a bounded loop until
it is back down to the baseline.  (One socket left open is one fd too many:
each libzmq socket holds a mailbox eventfd.)
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import zmq

import trio_zmq
from trio_zmq._core import _registry
from trio_zmq.testing import PAIRABLE_TYPES, unique_endpoint

from tests.conftest import ON_EVERY_LOOP
from tests.helpers import busy, open_fds

pytestmark = ON_EVERY_LOOP

TOTAL = 5000

#: (bound type, connected type) pairs that can talk to each other: the
#: testing kit's, and XPUB/XSUB, which it leaves out.
PAIRS = [*PAIRABLE_TYPES, (zmq.XPUB, zmq.XSUB)]

#: The pairs whose bound end can receive (a waiter can block in recv on it).
RECEIVING_PAIRS = [p for p in PAIRS if p[0] not in (zmq.PUB, zmq.PUSH)]

#: Socket types a receive can block on forever (nothing will be sent).
BLOCKING_RECEIVERS = [zmq.PULL, zmq.SUB, zmq.DEALER, zmq.ROUTER, zmq.REP, zmq.PAIR]


class Counter:
    """Makes sockets and counts them."""

    def __init__(self) -> None:
        self.opened = 0

    def socket(self, ctx: trio_zmq.Context, socket_type: int) -> trio_zmq.Socket:
        self.opened += 1
        return ctx.socket(socket_type)

    def pair(
        self,
        ctx: trio_zmq.Context,
        index: int,
        pairs: Sequence[tuple[int, int]] = PAIRS,
    ) -> tuple[trio_zmq.Socket, trio_zmq.Socket]:
        """Two sockets of a matching pair of types, connected over inproc."""
        bound_type, connected_type = pairs[index % len(pairs)]
        address = unique_endpoint("inproc")
        bound = self.socket(ctx, bound_type)
        bound.bind(address)
        connected = self.socket(ctx, connected_type)
        connected.connect(address)
        return bound, connected


async def close_round(ctx: trio_zmq.Context, counter: Counter, n_pairs: int) -> None:
    """Pairs closed with close(); some exchange a message first."""
    for i in range(n_pairs):
        bound, connected = counter.pair(ctx, i)
        if bound.type == zmq.PULL:
            await connected.send(b"x")
            with anyio.fail_after(5):
                assert await bound.recv() == b"x"
        bound.close()
        connected.close(linger=0)
        assert bound.closed
        assert connected.closed


async def aclose_round(ctx: trio_zmq.Context, counter: Counter, n_pairs: int) -> None:
    """Pairs closed with aclose(), or by leaving ``async with``."""
    for i in range(n_pairs):
        bound, connected = counter.pair(ctx, i)
        if i % 2:
            await connected.aclose()
            await bound.aclose()
        else:
            async with bound, connected:
                pass
        assert bound.closed
        assert connected.closed


async def context_round(counter: Counter, n_contexts: int, n_pairs: int) -> None:
    """Sockets left open, closed by leaving their Context's ``async with``."""
    for _ in range(n_contexts):
        sockets: list[trio_zmq.Socket] = []
        async with trio_zmq.Context(linger=0) as ctx:
            for i in range(n_pairs):
                sockets.extend(counter.pair(ctx, i))
        assert all(s.closed for s in sockets)
        assert ctx.closed


async def waiter_round(ctx: trio_zmq.Context, counter: Counter, batches: int, slots: int) -> None:
    """Sockets closed with close() while a task is blocked on each.

    In every fourth slot the waiter sits on the bound end of a connected pair
    (the connected end is closed first, without a waiter): 4 slots make 5
    sockets.  The others wait on a PUSH without a peer, or on a receiver.
    """
    for _ in range(batches):
        targets: list[trio_zmq.Socket] = []
        woken: list[trio_zmq.Socket] = []

        async def blocked(sock: trio_zmq.Socket, woken: list[trio_zmq.Socket]) -> None:
            try:
                if sock.type == zmq.PUSH:
                    await sock.send(b"never")  # no peer: blocks
                else:
                    await sock.recv()
            except anyio.ClosedResourceError:
                woken.append(sock)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as nursery:
                for slot in range(slots):
                    if slot % 4 == 0:
                        bound, connected = counter.pair(ctx, slot // 4, RECEIVING_PAIRS)
                        connected.close()
                        target = bound
                    elif slot % 4 == 1:
                        target = counter.socket(ctx, zmq.PUSH)
                    else:
                        target = counter.socket(ctx, BLOCKING_RECEIVERS[slot % 6])
                    targets.append(target)
                    nursery.start_soon(blocked, target, woken)
                await anyio.wait_all_tasks_blocked()
                assert all(busy(t) for t in targets)
                for target in targets:
                    target.close()
        assert sorted(map(id, woken)) == sorted(map(id, targets))


async def plain_round(ctx: trio_zmq.Context, counter: Counter, n: int) -> None:
    """Plain pyzmq sockets waited on through trio_zmq.wait_* (unpinned engines)."""
    for _ in range(n):
        address = unique_endpoint("inproc")
        zpull = ctx.zmq_context.socket(zmq.PULL)
        counter.opened += 1
        try:
            zpull.bind(address)
            push = counter.socket(ctx, zmq.PUSH)
            push.connect(address)
            with anyio.fail_after(5):
                await trio_zmq.wait_writable(push)
                await push.send(b"x")
                await trio_zmq.wait_readable(zpull)
            assert zpull.recv(zmq.NOBLOCK) == b"x"
            push.close()
        finally:
            zpull.close(linger=0)


async def churn(ctx: trio_zmq.Context, *, warm_up: bool = False) -> int:
    """Every kind of churn; returns how many sockets were opened (and closed)."""
    counter = Counter()
    k = 1 if warm_up else 100
    await close_round(ctx, counter, 10 * k)  # 2000 sockets
    await aclose_round(ctx, counter, 6 * k)  # 1200 sockets
    await context_round(counter, 1 if warm_up else 10, 25)  # 500 sockets
    await waiter_round(ctx, counter, 1 if warm_up else 10, 80)  # 1000 sockets
    await plain_round(ctx, counter, 2 if warm_up else 150)  # 300 sockets
    return counter.opened


async def stable_fds() -> int:
    """The fd count once it has stopped changing for 0.2 s (at most 5 s)."""
    count, since = open_fds(), anyio.current_time()
    with anyio.move_on_after(5):
        while anyio.current_time() - since < 0.2:
            await anyio.sleep(0.01)
            now = open_fds()
            if now != count:
                count, since = now, anyio.current_time()
    return count


async def fds_down_to(target: int) -> int:
    """The fd count once it is down to ``target`` (or after 5 s).

    libzmq's reaper thread closes a socket's fds after zmq_close returns.
    """
    with anyio.move_on_after(5):
        while open_fds() > target:  # noqa: ASYNC110 - no event for libzmq's reaper
            await anyio.sleep(0.01)
    return open_fds()


async def test_open_close_5000_sockets_leaks_nothing(ctx: trio_zmq.Context) -> None:
    # Warm-up: every path once, so that whatever trio, pyzmq and libzmq
    # create lazily exists before the baseline is taken.
    await churn(ctx, warm_up=True)
    await anyio.wait_all_tasks_blocked()
    fds_before = await stable_fds()
    engines_before = set(_registry._engines)
    assert not ctx._sockets  # every socket of the warm-up was closed

    opened = await churn(ctx)

    assert opened == TOTAL
    assert not ctx._sockets
    assert set(_registry._engines) == engines_before
    fds_after = await fds_down_to(fds_before)
    assert fds_after <= fds_before, f"{fds_after - fds_before} fds leaked"
