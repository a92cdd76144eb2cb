"""trio_zmq: ZeroMQ for trio, with structured concurrency and no lost wake-ups.

Layers, bottom up:

* :func:`probe`, :func:`wait_readable`, :func:`wait_writable` -- the
  probe/wait engine over ZMQ_FD and ZMQ_EVENTS (``trio_zmq._core``);
* :class:`Context` and :class:`Socket` -- pyzmq's API with trio's rules
  (``trio_zmq._socket``);
* :class:`MessageReceiveChannel` / :class:`MessageSendChannel` -- sockets as
  trio channels and anyio object streams (``trio_zmq._channels``);
* :class:`Poller` and :func:`wait_tracker` -- pyzmq's poller and zero-copy
  tracker waits, trio-native (``trio_zmq._tools``).
* :func:`monitor` -- a socket's connection events as a structured stream
  (``trio_zmq._tools``).

Everything runs under trio, and under anyio on either of its backends (trio
or asyncio).  The exceptions raised derive from trio's *and* anyio's
(:class:`ClosedResourceError`, :class:`WouldBlock`, :class:`EndOfStream`).
"""

# First: a libzmq too old for this library fails the import here, saying why.
from . import _libzmq  # noqa: F401  # isort: skip
from ._channels._attributes import ZMQAttribute
from ._channels._channels import ChannelStatistics, MessageReceiveChannel, MessageSendChannel
from ._core._exceptions import ClosedResourceError, EndOfStream, WouldBlock
from ._core._wait import probe, wait_readable, wait_writable
from ._socket._context import Context, ContextTermWarning
from ._socket._port import SocketStatistics
from ._socket._socket import Socket
from ._tools._monitor import Monitor, MonitorEvent, monitor
from ._tools._poller import Poller
from ._tools._proxy import Proxy, ProxyFlushTimeout, ProxyStatistics, proxy, proxy_steerable
from ._tools._tracker import wait_tracker

#: The one place the version is written: the packaging reads it ([tool.hatch.version]).
__version__ = "0.1.0"

__all__ = [
    "ChannelStatistics",
    "ClosedResourceError",
    "Context",
    "ContextTermWarning",
    "EndOfStream",
    "MessageReceiveChannel",
    "MessageSendChannel",
    "Monitor",
    "MonitorEvent",
    "Poller",
    "Proxy",
    "ProxyFlushTimeout",
    "ProxyStatistics",
    "Socket",
    "SocketStatistics",
    "WouldBlock",
    "ZMQAttribute",
    "__version__",
    "monitor",
    "probe",
    "proxy",
    "proxy_steerable",
    "wait_readable",
    "wait_tracker",
    "wait_writable",
]
