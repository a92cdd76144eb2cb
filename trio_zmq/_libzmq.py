"""The libzmq this library needs, checked when ``trio_zmq`` is imported.

pip knows pyzmq's version but not the libzmq underneath: pyzmq's wheels
bundle libzmq 4.3.5, while a pyzmq built from source links whatever libzmq
it finds, as old as 3.2.2.  This library needs libzmq 4.3.0, the first in
which the socket monitor's handshake events (``ZMQ_EVENT_HANDSHAKE_*``) are
part of the stable API: :func:`trio_zmq.monitor` reports them and
``trio-zmq send --peers`` waits for them.  Under an older libzmq they never
come, and what waits for them would wait forever; so ``import trio_zmq``
refuses such a libzmq instead, with an :exc:`ImportError` that says what to
install.
"""

from __future__ import annotations

from typing import Final

import zmq

#: The oldest libzmq this library runs on, as ``zmq.zmq_version_info()`` has it.
LIBZMQ_MINIMUM: Final = (4, 3, 0)


def require_libzmq() -> None:
    """Raise :exc:`ImportError` if the libzmq pyzmq runs is older than
    :data:`LIBZMQ_MINIMUM`.

    Raises:
      ImportError: naming the libzmq found, the one needed, and how to get it.
    """
    found = tuple(zmq.zmq_version_info())
    if found >= LIBZMQ_MINIMUM:
        return
    needed = ".".join(map(str, LIBZMQ_MINIMUM))
    raise ImportError(
        f"trio_zmq needs libzmq {needed} or newer, but pyzmq {zmq.pyzmq_version()} "
        f"runs libzmq {'.'.join(map(str, found))} (the socket monitor's handshake "
        f"events are stable from libzmq {needed} on).  Install pyzmq's wheel, which "
        f"bundles a recent libzmq: pip install --force-reinstall --only-binary pyzmq "
        f"pyzmq; or build pyzmq against libzmq {needed} or newer."
    )


require_libzmq()
