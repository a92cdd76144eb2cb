"""What every example script shares: run ``main`` under trio, and Ctrl-C.

``python -m examples.pirate.queue``, ``python -m examples.mongrel2`` and the
others end on Ctrl-C with status 130 and no traceback, as the project's
commands do: the signal cancels ``main`` like any trio cancellation, so its
nurseries end and its sockets close on the way out.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Awaitable, Callable

import trio


async def _until_ctrl_c(
    main: Callable[[argparse.Namespace], Awaitable[int | None]], args: argparse.Namespace
) -> int | None:
    """``main(args)``'s status, or 130 once Ctrl-C (SIGINT) has cancelled it."""
    interrupted = False
    with trio.open_signal_receiver(signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:

            async def cancel_on_ctrl_c() -> None:
                nonlocal interrupted
                async for _ in signals:
                    interrupted = True
                    nursery.cancel_scope.cancel()

            nursery.start_soon(cancel_on_ctrl_c)
            status = await main(args)
            nursery.cancel_scope.cancel()
    return 130 if interrupted else status


def run_script(
    main: Callable[[argparse.Namespace], Awaitable[int | None]], args: argparse.Namespace
) -> None:
    """Run ``main(args)`` under trio and exit with its status; 130 on Ctrl-C.

    Ctrl-C cancels ``main`` like any trio cancellation: its nurseries end,
    its sockets close and its context terminates on the way out, with no
    traceback.
    """
    sys.exit(trio.run(_until_ctrl_c, main, args) or 0)
