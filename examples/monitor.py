"""Watch a server's connections with trio_zmq's monitor.

Run it with ``python examples/monitor.py``: a ROUTER server is monitored
while two clients connect, say hello and leave; then the server closes,
which ends the stream of events.  The watcher is a task of the nursery you
see; nothing runs in the background.
"""

from __future__ import annotations

import trio
import zmq

import trio_zmq

CLIENTS = 2


async def watch(events: trio_zmq.Monitor, all_left: trio.Event, log: list[str]) -> None:
    """Print every event until the monitor ends (the server is closed)."""
    left = 0
    async for event in events:
        name = str(event.event.name)
        print(f"  {name:<20} value={event.value:<4} {event.endpoint}")
        log.append(name)
        if event.event == zmq.Event.DISCONNECTED:
            left += 1
            if left == CLIENTS:
                all_left.set()


async def main() -> list[str]:
    """Run the example; return the names of the events seen, in order."""
    log: list[str] = []
    async with trio_zmq.Context() as ctx:
        server = ctx.socket(zmq.ROUTER)
        port = server.bind_to_random_port("tcp://127.0.0.1")
        all_left = trio.Event()
        with trio.fail_after(10):
            async with server.monitor(zmq.EVENT_ALL) as events, trio.open_nursery() as nursery:
                nursery.start_soon(watch, events, all_left, log)
                for n in range(CLIENTS):
                    client = ctx.socket(zmq.DEALER)
                    client.connect(f"tcp://127.0.0.1:{port}")
                    await client.send(f"hello from client {n}".encode())
                    _, message = await server.recv_multipart()
                    print(f"server got {message.decode()!r}")
                    client.close()
                await all_left.wait()
                # Closing the monitored socket ends the iteration in watch();
                # the nursery waits for it, then the monitor is torn down.
                server.close()
    return log


if __name__ == "__main__":
    trio.run(main)
