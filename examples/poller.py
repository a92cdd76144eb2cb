"""trio_zmq.Poller: one loop over two zmq sockets and a pipe, as zmq.asyncio code
writes it, on trio or asyncio.

    python examples/poller.py            # trio
    python examples/poller.py asyncio    # asyncio, the same code through anyio

A worker takes jobs from a PULL socket, stops when told on a control socket,
and also watches a pipe (think of a signal's self-pipe or a subprocess's
stdout): ``dict(await poller.poll())`` is pyzmq's idiom, unchanged.
"""

from __future__ import annotations

import os
import sys

import anyio
import zmq

import trio_zmq

JOBS = 3


async def main() -> None:
    async with trio_zmq.Context() as ctx:
        jobs = ctx.socket(zmq.PULL)
        port = jobs.bind_to_random_port("tcp://127.0.0.1")
        control = ctx.socket(zmq.PULL)
        control.bind("inproc://control")
        pipe_r, pipe_w = os.pipe()

        poller = trio_zmq.Poller()
        poller.register(jobs, zmq.POLLIN)
        poller.register(control, zmq.POLLIN)
        poller.register(pipe_r, zmq.POLLIN)  # raw fds are reported by number

        async def boss() -> None:
            push = ctx.socket(zmq.PUSH)
            push.connect(f"tcp://127.0.0.1:{port}")
            for n in range(JOBS):
                await push.send_string(f"job {n}")
            os.write(pipe_w, b"hello through the pipe")
            stop = ctx.socket(zmq.PUSH)
            stop.connect("inproc://control")
            await stop.send_string("stop")

        # Nothing registered is ready yet: a poll with a timeout returns [].
        print("idle:", await poller.poll(timeout=10))

        done, stopping = 0, False
        async with anyio.create_task_group() as tg:
            tg.start_soon(boss)
            with anyio.fail_after(5):  # the trio way to bound the whole loop
                while not (stopping and done == JOBS):
                    events = dict(await poller.poll())
                    if jobs in events:
                        print("worker:", await jobs.recv_string())
                        done += 1
                    if pipe_r in events:
                        print("pipe:", os.read(pipe_r, 100).decode())
                    if control in events:
                        print("control:", await control.recv_string())
                        stopping = True
        os.close(pipe_r)
        os.close(pipe_w)
        print(f"done: {done} jobs")


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "trio")
