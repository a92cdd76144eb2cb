"""Zero-copy sends with trio_zmq: reuse a buffer only once libzmq is done with it.

    python examples/trackers.py            # trio
    python examples/trackers.py asyncio    # asyncio, the same code through anyio

``send(buf, copy=False, track=True)`` hands libzmq a pointer into ``buf``
instead of a copy, and returns a ``zmq.MessageTracker``.  libzmq reads the
buffer later, from its I/O thread; until ``await trio_zmq.wait_tracker(tracker)``
returns, changing ``buf`` could change the message on the wire.  Here one
1 MiB buffer is refilled and sent three times, and the receiver checks that
every message arrived as it was when it was sent.
"""

from __future__ import annotations

import sys

import anyio
import zmq

import trio_zmq

SIZE = 1 << 20  # zero-copy only pays off (and only happens) for large buffers


async def main() -> None:
    async with trio_zmq.Context() as ctx:
        pull = ctx.socket(zmq.PULL)
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        push = ctx.socket(zmq.PUSH)
        push.connect(f"tcp://127.0.0.1:{port}")

        async def receiver() -> None:
            for letter in b"ABC":
                data = await pull.recv()
                intact = data == bytes([letter]) * SIZE
                print(f"received {len(data)} bytes of {chr(letter)!r}: intact={intact}")

        buf = bytearray(SIZE)
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(receiver)
                for letter in b"ABC":
                    buf[:] = bytes([letter]) * SIZE  # safe: the last send let go of buf
                    tracker = await push.send(buf, copy=False, track=True)
                    await trio_zmq.wait_tracker(tracker)  # now libzmq has let go
                    print(f"sent {chr(letter)!r}, tracker done={tracker.done}")

        # A message nobody takes keeps its buffer: the wait goes on until you
        # stop it, with pyzmq's timeout (zmq.NotDone) or a cancel scope.
        lonely = ctx.socket(zmq.PUSH)
        lonely.linger = 0  # drop it at exit
        lonely.connect("inproc://nobody-binds-this")  # queued, never delivered
        tracker = await lonely.send(bytearray(SIZE), copy=False, track=True)
        try:
            await trio_zmq.wait_tracker(tracker, timeout=0.05)
        except zmq.NotDone:
            print("unsent message: zmq.NotDone after 50 ms")
        with anyio.move_on_after(0.05) as scope:
            await trio_zmq.wait_tracker(tracker)
        print(f"unsent message: cancelled={scope.cancelled_caught}, done={tracker.done}")


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "trio")
