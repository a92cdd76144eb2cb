"""Mongrel2 and the handler together: ``python -m examples.mongrel2``.

Starts a real Mongrel2 (``mongrel2`` and ``m2sh`` from Debian's
mongrel2-core) in a temporary directory, the handler with ``--workers``
worker tasks beside it in one nursery, waits for a first request to go
through, prints the URL and serves until Ctrl-C.  Try it with
``curl -s http://127.0.0.1:6767/hello`` or ``curl -N .../stream?ms=500``
and hang up with Ctrl-C: the handler prints the disconnect.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import trio

import trio_zmq
from examples._script import run_script

from .client import wait_until_served
from .handler import Journal, add_worker_argument, serve
from .server import STARTUP_TIMEOUT, running_mongrel2


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="mongrel2-") as directory:
        async with (
            running_mongrel2(Path(directory), http_port=args.port) as config,
            trio_zmq.Context(linger=0) as ctx,
            trio.open_nursery() as nursery,
        ):
            journal = Journal(verbose=True)
            await nursery.start(
                lambda task_status: serve(
                    ctx,
                    config.send_spec,
                    config.recv_spec,
                    workers=args.workers,
                    journal=journal,
                    task_status=task_status,
                )
            )
            with trio.fail_after(STARTUP_TIMEOUT):
                await wait_until_served(config.http_port)
            print(f"ready: {config.url}hello (Mongrel2 in {directory})", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m examples.mongrel2``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=6767, help="HTTP port (0: a free one)")
    add_worker_argument(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_script(main, parse_args())
