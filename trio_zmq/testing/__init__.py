"""``trio_zmq.testing``: property-test your own socket patterns.

What the library's own property suite uses, for your code:

* hypothesis strategies for frames, multipart messages, routing ids, topics,
  endpoints and socket-type pairs that can talk;
* :func:`socket_pair`, an async context manager yielding two connected,
  ready sockets (PUB/SUB already synchronised);
* :func:`chaos_mode` with :func:`chaos_schedules`: the engine injects
  spurious fd wake-ups, forced EAGAIN on the first non-blocking attempt and
  extra checkpoints, as drawn by hypothesis, so your protocol code runs
  under adversarial scheduling and a failing schedule shrinks and prints;
* :func:`faulty_link`, a TCP relay between two sockets that a test stalls,
  cuts and throttles, with :func:`fault_schedules` drawing timed faults
  (:class:`FaultSchedule` of :class:`Stall`, :class:`Cut`, :class:`Slow`)
  that shrink and print as code;
* a pytest plugin (``trio_zmq._pytest_plugin``, registered with pytest when
  the package is installed) with the fixtures ``zmq_context``,
  ``zmq_ipc_dir``, ``zmq_socket_pair`` and ``zmq_faulty_link``.

Requires hypothesis (``pip install "trio-zmq[test]"``).
"""

from ._chaos import ChaosSchedule, chaos_mode, chaos_schedules
from ._fault_schedules import Cut, Fault, FaultSchedule, Slow, Stall, fault_schedules
from ._faulty_link import FaultyLink, LinkStatistics, faulty_link
from ._pairs import socket_pair, sync_pub_sub, unique_endpoint
from ._strategies import (
    PAIRABLE_TYPES,
    endpoints,
    frames,
    multipart_messages,
    routing_ids,
    socket_type_pairs,
    topics,
    transports,
)

__all__ = [
    "PAIRABLE_TYPES",
    "ChaosSchedule",
    "Cut",
    "Fault",
    "FaultSchedule",
    "FaultyLink",
    "LinkStatistics",
    "Slow",
    "Stall",
    "chaos_mode",
    "chaos_schedules",
    "endpoints",
    "fault_schedules",
    "faulty_link",
    "frames",
    "multipart_messages",
    "routing_ids",
    "socket_pair",
    "socket_type_pairs",
    "sync_pub_sub",
    "topics",
    "transports",
    "unique_endpoint",
]
