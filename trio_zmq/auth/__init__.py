"""``trio_zmq.auth``: ZAP authentication (ZeroMQ RFC 27) in a task group.

:class:`Authenticator` is pyzmq's authenticator (``zmq.auth``) with the same
method names and meaning -- ``allow``, ``deny``, ``configure_plain``,
``configure_curve`` (certificate directories as made by
:func:`zmq.auth.create_certificates`, or :data:`CURVE_ALLOW_ANY`),
``configure_curve_callback`` -- run the structured way::

    async with trio_zmq.Context() as ctx:
        auth = trio_zmq.auth.Authenticator(ctx)
        auth.configure_curve(location="public_keys")
        async with auth:  # a task group of its own
            ...

or ``await nursery.start(auth.run)`` in a nursery or task group of yours.
It runs on trio and, through anyio, on asyncio.  Unlike pyzmq's, it needs no
thread and no asyncio loop of its own, serves every request in a task of its
own (a slow ``async def`` credentials callback for one client does not hold
up the others), answers pending requests when it stops, and runs once per
context -- as many per process as there are contexts.

See ``docs/auth.md`` for a walk-through and ``examples/auth_curve.py`` for a
complete CURVE server and client.
"""

from ._authenticator import FAILED, STOPPING, Authenticator
from ._policy import CURVE_ALLOW_ANY, CredentialsProvider
from ._zap import ZAP_ENDPOINT

__all__ = [
    "CURVE_ALLOW_ANY",
    "FAILED",
    "STOPPING",
    "ZAP_ENDPOINT",
    "Authenticator",
    "CredentialsProvider",
]
