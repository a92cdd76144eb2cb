"""CURVE sockets for the tests, defined once: the options that make a
socket a CURVE server or a CURVE client.

The same calls serve trio_zmq and blocking pyzmq sockets.  Keys are Z85, as
:func:`zmq.curve_keypair` makes them.  At run time this module imports only
pyzmq, so that peer programs that must not use trio_zmq
(``tests/auth/curve_peer.py``) use it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

import zmq

if TYPE_CHECKING:
    import trio_zmq

#: A socket of either library, returned as it was given.
SocketT = TypeVar("SocketT", bound="trio_zmq.Socket | zmq.Socket[Any]")


class KeyHolder(Protocol):
    """A CURVE key pair held as attributes (as tests/auth/support.py's ``Keys``)."""

    @property
    def public(self) -> bytes: ...

    @property
    def secret(self) -> bytes: ...


#: A key pair: held as attributes, or ``(public, secret)`` as
#: zmq.curve_keypair() returns it.
KeyPair: TypeAlias = "KeyHolder | tuple[bytes, bytes]"


def curve_server(sock: SocketT, secret: bytes) -> SocketT:
    """Make ``sock`` a CURVE server with the secret key ``secret``; return it."""
    sock.curve_server = True
    sock.curve_secretkey = secret
    sock.curve_publickey = zmq.curve_public(secret)
    return sock


def client_options(
    server_public: bytes, keys: KeyPair | None = None
) -> dict[zmq.SocketOption, bytes]:
    """The options of a CURVE client of the server whose public key is
    ``server_public``, with its own ``keys`` (a fresh pair if None)."""
    if keys is None:
        keys = zmq.curve_keypair()
    public, secret = keys if isinstance(keys, tuple) else (keys.public, keys.secret)
    return {
        zmq.CURVE_SERVERKEY: server_public,
        zmq.CURVE_PUBLICKEY: public,
        zmq.CURVE_SECRETKEY: secret,
    }


def curve_client(sock: SocketT, server_public: bytes, keys: KeyPair | None = None) -> SocketT:
    """Make ``sock`` a CURVE client (see :func:`client_options`); return it."""
    for option, value in client_options(server_public, keys).items():
        sock.set(option, value)
    return sock
