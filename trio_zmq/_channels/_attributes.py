"""anyio typed attributes of a channel view: ``view.extra(ZMQAttribute.fd)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import zmq
from anyio import TypedAttributeSet, typed_attribute

if TYPE_CHECKING:
    from .._socket._socket import Socket


class ZMQAttribute(TypedAttributeSet):
    """What :meth:`extra` tells about the socket under a channel view.

    Looking up ``fd`` or ``endpoints`` on a view whose socket is closed
    raises :exc:`ClosedResourceError`.
    """

    #: The :class:`trio_zmq.Socket` the view reads from or writes to.
    socket: Socket = typed_attribute()
    #: Its type (``zmq.PUSH``...); known even once it is closed.
    socket_type: zmq.SocketType = typed_attribute()
    #: Its ZMQ_FD (edge-triggered, shared by both directions).
    fd: int = typed_attribute()
    #: The endpoints bound or connected through it, in order.
    endpoints: tuple[str, ...] = typed_attribute()
