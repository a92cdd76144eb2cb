"""trio_zmq: ZeroMQ for trio, with structured concurrency and no lost wake-ups.

Layers, bottom up:

* :func:`probe`, :func:`wait_readable`, :func:`wait_writable` -- the
  probe/wait engine over ZMQ_FD and ZMQ_EVENTS (``trio_zmq._core``);
* :class:`Context` and :class:`Socket` -- pyzmq's API with trio's rules
  (``trio_zmq._socket``);
* :class:`MessageReceiveChannel` / :class:`MessageSendChannel` -- sockets as
  trio channels and anyio object streams (``trio_zmq._channels``);
* :func:`monitor` -- a socket's connection events as a structured stream
  (``trio_zmq._tools``).

Everything runs under trio, and under anyio on either of its backends (trio
or asyncio).  The exceptions raised derive from trio's *and* anyio's
(:class:`ClosedResourceError`, :class:`WouldBlock`, :class:`EndOfStream`).
"""

from ._channels._attributes import ZMQAttribute
from ._channels._channels import ChannelStatistics, MessageReceiveChannel, MessageSendChannel
from ._core._exceptions import ClosedResourceError, EndOfStream, WouldBlock
from ._core._wait import probe, wait_readable, wait_writable
from ._socket._context import Context
from ._socket._socket import Socket
from ._tools._monitor import Monitor, MonitorEvent, monitor

__version__ = "0.1.0"

__all__ = [
    "ChannelStatistics",
    "ClosedResourceError",
    "Context",
    "EndOfStream",
    "MessageReceiveChannel",
    "MessageSendChannel",
    "Monitor",
    "MonitorEvent",
    "Socket",
    "WouldBlock",
    "ZMQAttribute",
    "__version__",
    "monitor",
    "probe",
    "wait_readable",
    "wait_writable",
]
