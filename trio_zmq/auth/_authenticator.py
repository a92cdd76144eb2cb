"""``trio_zmq.auth.Authenticator``: a ZAP handler that runs in a task group.

One task receives the requests libzmq sends to ``inproc://zeromq.zap.01`` on
a ROUTER socket and starts a child task per request, which decides (awaiting
the credentials callback, if it is a coroutine function) and replies.  Both
run in a task group the caller can see: ``async with Authenticator(ctx)``
opens one, ``await nursery.start(auth.run)`` uses the caller's.

Stopping answers every request it has received and not yet answered, and
every request waiting unread in the socket, with status 500 "authenticator
stopping", and then closes the socket.  libzmq fails those handshakes at
once (the clients' monitors see HANDSHAKE_FAILED_AUTH, 500).  Closing the
socket without answering would leave each of those handshakes pending until
ZMQ_HANDSHAKE_IVL (30 s by default) expired.
"""

from __future__ import annotations

import codecs
import contextlib
import enum
import itertools
import logging
import os
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Final, final

import anyio
import anyio.abc
import zmq
import zmq.auth

from .._core._exceptions import ClosedResourceError, WouldBlock
from .._socket._context import Context
from .._socket._socket import Socket
from . import _zap
from ._policy import ALLOW_ANY, CURVE_ALLOW_ANY, CredentialsProvider, Decision, Policy, z85_user_id

#: The status text of the requests a stopping authenticator answers (500).
STOPPING: Final = "authenticator stopping"
#: The status text of a request whose credentials callback raised (500).
FAILED: Final = "authenticator error"
#: How many requests waiting unread in the socket stopping answers at most
#: (a bound on the final synchronous drain; libzmq sends one per handshake).
_DRAIN_LIMIT: Final = 10_000


class _State(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


@final
class Authenticator:
    """ZAP authentication (ZeroMQ RFC 27) for the sockets of one context.

    Configure it with pyzmq's methods (:meth:`allow`, :meth:`deny`,
    :meth:`configure_plain`, :meth:`configure_curve`,
    :meth:`configure_curve_callback`), at any time: each request is judged
    by the configuration of the moment.  Configure before serving, or the
    first clients may be refused.  Then run it in a task group::

        async with trio_zmq.Context() as ctx:
            auth = trio_zmq.auth.Authenticator(ctx)
            auth.configure_curve(location=public_keys_dir)
            async with auth:
                ...  # CURVE server sockets of ctx are authenticated here

    or, in a nursery or task group of your own,
    ``await nursery.start(auth.run)``.  Each request is served in a child
    task of the authenticator, so a slow ``async`` credentials callback for
    one client holds up no other client's handshake.

    libzmq allows one ZAP handler per context: a second authenticator on
    the same context raises :exc:`RuntimeError` before it serves.  Use a
    context per authenticator to run several in one process.

    Stopping (leaving the ``async with`` block, :meth:`stop`, or cancelling
    :meth:`run`) answers every pending request with status 500
    "authenticator stopping", so those handshakes fail at once, and closes
    the ZAP socket.  After that libzmq lets CURVE and NULL handshakes on the
    context through *without asking anyone* -- unless the server socket
    sets both ``zap_domain`` and ``zap_enforce_domain``: stop the
    authenticator after closing the sockets it protects.

    An exception from a credentials callback answers that request with
    status 500 "authenticator error", stops the authenticator (the other
    pending requests are answered as above) and comes out of :meth:`run`,
    or of the ``async with`` block, in an exception group.

    Args:
      context: the :class:`trio_zmq.Context` whose sockets to authenticate.
      encoding: how to decode domains, addresses, user names and passwords.
      log: a :class:`logging.Logger` (default: ``trio_zmq.auth``).  It
        gets each reply at DEBUG and each malformed request at ERROR, never
        a credential: a malformed request by its frames' sizes only.
      curve_user_id: maps a CURVE client's public key (32 bytes) to the
        user id its messages carry ("User-Id"); default: the key,
        Z85-encoded, as pyzmq's ``Authenticator.curve_user_id``.

    Raises:
      TypeError: ``context`` is not a :class:`trio_zmq.Context` (a pyzmq
        context would need a pyzmq authenticator).
    """

    __slots__ = (
        "_context",
        "_pending",
        "_policy",
        "_scope",
        "_state",
        "_stopping",
        "_task_group",
        "log",
    )

    def __init__(
        self,
        context: Context,
        *,
        encoding: str = "utf-8",
        log: logging.Logger | None = None,
        curve_user_id: Callable[[bytes], str] | None = None,
    ) -> None:
        if not isinstance(context, Context):
            raise TypeError(
                f"Authenticator needs a trio_zmq.Context, not {type(context).__name__}; "
                "for a pyzmq context, use zmq.auth.thread.ThreadAuthenticator"
            )
        codecs.lookup(encoding)  # LookupError now for an unknown encoding
        if curve_user_id is not None and not callable(curve_user_id):
            raise TypeError(f"curve_user_id must be callable, not {curve_user_id!r}")
        self._context = context
        self._policy = Policy(encoding, curve_user_id or z85_user_id)
        #: The requests received and not yet answered, by arrival number.
        self._pending: dict[int, _zap.Request] = {}
        self._state = _State.NEW
        self._stopping = False
        #: The cancel scope of run()'s task group, while it runs.
        self._scope: anyio.CancelScope | None = None
        #: The task group of ``async with``, while in the block.
        self._task_group: anyio.abc.TaskGroup | None = None
        self.log = log or logging.getLogger("trio_zmq.auth")

    # ------------------------------------------------------------------
    # Configuration: pyzmq's names and meaning
    # ------------------------------------------------------------------

    @property
    def context(self) -> Context:
        """The context whose sockets this authenticates."""
        return self._context

    def allow(self, *addresses: str) -> None:
        """Let in only clients from these IP addresses (each call adds).

        NULL clients from them are accepted; PLAIN and CURVE clients from
        them still go through their own checks.  Addresses are compared as
        libzmq reports them (``"127.0.0.1"``; ipc and inproc report ``""``).

        Raises:
          ValueError: :meth:`deny` was used already (they exclude each other).
          TypeError: an address is not a str.
        """
        if self._policy.denied:
            raise ValueError("Only use allow or deny, not both")
        self._policy.allowed.update(_addresses(addresses))

    def deny(self, *addresses: str) -> None:
        """Refuse clients from these IP addresses (each call adds).

        Clients from other addresses go on to their mechanism's checks.

        Raises:
          ValueError: :meth:`allow` was used already (they exclude each other).
          TypeError: an address is not a str.
        """
        if self._policy.allowed:
            raise ValueError("Only use allow or deny, not both")
        self._policy.denied.update(_addresses(addresses))

    def configure_plain(self, domain: str = "*", passwords: dict[str, str] | None = None) -> None:
        """Check PLAIN clients of ``domain`` against ``{user name: password}``.

        ``"*"`` covers requests without a ZAP domain.  Each call replaces the
        domain's table (a copy of ``passwords`` is kept); with ``None`` or an
        empty table nothing changes, as in pyzmq.

        Raises:
          TypeError: ``domain`` is not a str, or ``passwords`` does not map
            str to str.
        """
        _check_domain(domain)
        if not passwords:
            if passwords is not None and not isinstance(passwords, dict):
                raise TypeError(f"passwords must be a dict, not {type(passwords).__name__}")
            return
        if not isinstance(passwords, dict):
            raise TypeError(
                f"passwords must be a dict of str to str, not {type(passwords).__name__}"
            )
        for user, password in passwords.items():
            # The message names types, never a password.
            if not isinstance(user, str):
                raise TypeError(
                    "passwords must be a dict of str to str, "
                    f"not of {type(user).__name__} user names"
                )
            if not isinstance(password, str):
                raise TypeError(
                    f"passwords must be a dict of str to str: user {user!r} has a "
                    f"{type(password).__name__} password"
                )
        self._policy.passwords[domain] = dict(passwords)

    def configure_curve(self, domain: str = "*", location: str | os.PathLike[str] = ".") -> None:
        """Check CURVE clients of ``domain`` against a certificate directory.

        ``location`` holds the public certificates (``*.key`` files, as made
        by :func:`zmq.auth.create_certificates`) of the clients to let in;
        they are read now, with :func:`zmq.auth.load_certificates`: call
        this again after adding or removing certificates.  With
        :data:`CURVE_ALLOW_ANY` as ``location``, any client with a valid
        CURVE handshake is let in (encryption without authentication).  It
        replaces the domain's CURVE policy (certificates, allow-any or a
        callback); unlike pyzmq's, it leaves other domains alone.

        Raises:
          OSError: ``location`` is not a directory (pyzmq only logs this).
          ValueError: a ``*.key`` file there has no public key.
          TypeError: ``domain`` is not a str.
        """
        _check_domain(domain)
        if location == CURVE_ALLOW_ANY:
            self._policy.curve[domain] = ALLOW_ANY
            return
        self._policy.curve[domain] = frozenset(zmq.auth.load_certificates(location))

    def configure_curve_callback(
        self, domain: str = "*", credentials_provider: CredentialsProvider | None = None
    ) -> None:
        """Ask ``credentials_provider.callback(domain, key)`` about CURVE clients.

        The callback gets the ZAP domain (``"*"`` for none) and the client's
        public key, Z85-encoded (bytes), and returns whether to let it in.
        It may be a coroutine function (``async def``): it is then awaited,
        in the request's own task, so other handshakes go on meanwhile; it
        is cancelled if the authenticator stops.  A plain function runs in
        the event loop's thread and must not block.  Replaces the domain's
        CURVE policy.

        Raises:
          TypeError: ``credentials_provider`` has no callable ``callback``
            (pyzmq only logs a missing provider).
        """
        _check_domain(domain)
        if not callable(getattr(credentials_provider, "callback", None)):
            raise TypeError(
                "credentials_provider must have a callback(domain, key) method, "
                f"not {credentials_provider!r}"
            )
        assert credentials_provider is not None
        self._policy.curve[domain] = credentials_provider

    def configure_gssapi(self, domain: str = "*", location: str | None = None) -> None:
        """Not supported: GSSAPI clients are refused.

        Raises:
          NotImplementedError: always (pyzmq's method configures nothing and
            lets every GSSAPI client in).
        """
        raise NotImplementedError(
            "trio_zmq.auth does not support GSSAPI; GSSAPI clients are refused"
        )

    def curve_user_id(self, client_public_key: bytes) -> str:
        """The user id of a CURVE client with this public key (32 bytes)."""
        return self._policy.curve_user_id(client_public_key)

    # ------------------------------------------------------------------
    # Running
    # ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between the start of :meth:`run` and its end."""
        return self._state is _State.RUNNING

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve ZAP requests until :meth:`stop` is called or the task is cancelled.

        Binds the ZAP socket first: with ``await nursery.start(auth.run)``,
        the start returns once the authenticator serves, and raises if it
        cannot.  Returns after a :meth:`stop`; raises ``Cancelled`` when
        cancelled from outside.  Either way every pending request has been
        answered (500 "authenticator stopping") and the socket is closed.

        Raises:
          RuntimeError: another ZAP handler (this library's or pyzmq's) is
            bound on the context, or this authenticator ran already
            (before it serves).
          BaseExceptionGroup: from its task group, once it serves: with the
            exception of a credentials callback, or with
            :exc:`trio_zmq.ClosedResourceError` if the context closed the
            authenticator's socket.
        """
        if self._state is not _State.NEW or self._stopping:
            raise RuntimeError("this Authenticator has run or was stopped: make a new one")
        sock = self._bind()
        self._state = _State.RUNNING
        # The scope stop() cancels: it ends the serving loop and the
        # requests' tasks, and run() returns.
        self._scope = anyio.CancelScope()
        try:
            with self._scope:
                async with anyio.create_task_group() as task_group:
                    task_status.started()
                    await self._serve(sock, task_group)
        finally:
            self._state = _State.STOPPED
            self._scope = None
            self._shut(sock)

    def stop(self) -> None:
        """Make :meth:`run` answer what is pending, close its socket and return.

        Idempotent; never blocks, never a checkpoint; call it from the event
        loop's thread.  Called before :meth:`run`, it makes :meth:`run`
        raise :exc:`RuntimeError`.
        """
        self._stopping = True
        if self._scope is not None:
            self._scope.cancel()

    async def aclose(self) -> None:
        """:meth:`stop`, then a checkpoint.  Wait for :meth:`run` to return
        (or leave the ``async with`` block) to know that it has stopped."""
        self.stop()
        await anyio.lowlevel.checkpoint()

    async def __aenter__(self) -> Authenticator:
        """Run the authenticator in a task group of its own.

        Returns once it serves (see :meth:`run` for the errors).
        """
        if self._task_group is not None:
            raise RuntimeError("this Authenticator is already running in an async with block")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        try:
            await task_group.start(self.run)
        except BaseException:
            # Nothing runs in the group: close it without wrapping the error.
            await task_group.__aexit__(None, None, None)
            raise
        self._task_group = task_group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        """Stop the authenticator and wait until it has stopped."""
        task_group, self._task_group = self._task_group, None
        self.stop()
        if task_group is None:
            return None
        return await task_group.__aexit__(exc_type, exc, traceback)

    def __repr__(self) -> str:
        state = "stopping" if self._stopping and self.running else self._state.value
        return f"<trio_zmq.auth.Authenticator {state}, {len(self._pending)} pending>"

    # ------------------------------------------------------------------
    # Serving
    # ------------------------------------------------------------------

    def _bind(self) -> Socket:
        sock = self._context.socket(zmq.ROUTER)
        try:
            sock.linger = 0
            # A reply to a client that went away raises instead of vanishing.
            sock.router_mandatory = 1
            sock.bind(_zap.ZAP_ENDPOINT)
        except zmq.ZMQError as exc:
            sock.close(linger=0)
            if exc.errno == zmq.EADDRINUSE:
                raise RuntimeError(
                    f"another ZAP handler is bound to {_zap.ZAP_ENDPOINT} on this context: "
                    "libzmq allows one per context; give each Authenticator a "
                    "trio_zmq.Context of its own"
                ) from exc
            raise
        except BaseException:
            sock.close(linger=0)
            raise
        return sock

    async def _serve(self, sock: Socket, task_group: anyio.abc.TaskGroup) -> None:
        for number in itertools.count():
            request = self._accept(sock, await sock.recv_multipart())
            if request is not None:
                self._pending[number] = request
                task_group.start_soon(self._answer, sock, number, request)

    def _accept(self, sock: Socket, frames: list[bytes]) -> _zap.Request | None:
        """The request in ``frames``; a malformed one is answered (400) or dropped."""
        try:
            return _zap.parse_request(frames)
        except _zap.MalformedRequest as bad:
            # Only the frames' sizes: which frames of a malformed message
            # hold credentials (a PLAIN password) is not known.
            self.log.error(  # noqa: TRY400
                "Invalid ZAP message (%s): %d frames of %s bytes",
                bad.reason,
                len(frames),
                _zap.frame_sizes(frames),
            )
            if bad.envelope is not None and bad.request_id is not None:
                refusal = Decision(_zap.AUTHENTICATION_FAILURE, bad.reason)
                self._send(sock, bad.envelope, bad.request_id, refusal)
            return None

    async def _answer(self, sock: Socket, number: int, request: _zap.Request) -> None:
        try:
            decision = await self._policy.decide(request)
        except Exception:
            # The request gets a definite answer; the error stops the
            # authenticator (the task group cancels the rest).
            if self._pending.pop(number, None) is not None:
                self._reply(sock, request, Decision(_zap.INTERNAL_ERROR, FAILED))
            raise
        # If cancelled instead, the request stays pending: _shut answers it.
        if self._pending.pop(number, None) is not None:
            self._reply(sock, request, decision)

    def _reply(self, sock: Socket, request: _zap.Request, decision: Decision) -> None:
        self.log.debug(
            "ZAP %s domain=%r address=%r: %d %s",
            request.mechanism.decode("ascii", "replace"),
            request.domain,
            request.address,
            decision.status_code,
            decision.status_text,
        )
        self._send(sock, request.envelope, request.request_id, decision)

    def _send(
        self, sock: Socket, envelope: Iterable[bytes], request_id: bytes, decision: Decision
    ) -> None:
        frames = _zap.reply_frames(
            tuple(envelope),
            request_id,
            decision.status_code,
            decision.status_text,
            decision.user_id.encode(self._policy.encoding, "replace"),
        )
        try:
            # Never waits: each session's pipe holds its one request and
            # its one reply, far below any high-water mark.
            sock.send_multipart_nowait(frames)
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            self.log.debug("ZAP client went away before its reply")
        except (WouldBlock, ClosedResourceError) as exc:
            self.log.warning("ZAP reply not sent (%r): the handshake fails by timeout", exc)

    def _shut(self, sock: Socket) -> None:
        """Free the ZAP endpoint, answer everything pending with 500, close.

        The unbind frees the endpoint at once (a close frees it only when
        libzmq's reaper gets to the socket), so a successor can bind
        right after; sessions that find no handler from then on are
        libzmq's business (see the class docstring).  Synchronous, so that
        nothing is received between the last answer and the close; only a
        request libzmq sends in between is left to the client's
        ZMQ_HANDSHAKE_IVL.
        """
        if not sock.closed:
            with contextlib.suppress(zmq.ZMQError):
                sock.unbind(_zap.ZAP_ENDPOINT)
        stopping = Decision(_zap.INTERNAL_ERROR, STOPPING)
        pending, self._pending = self._pending, {}
        for request in pending.values():
            self._reply(sock, request, stopping)
        for _ in range(_DRAIN_LIMIT):
            try:
                frames = sock.recv_multipart_nowait()
            except (WouldBlock, ClosedResourceError):
                break
            unread = self._accept(sock, frames)
            if unread is not None:
                self._reply(sock, unread, stopping)
        sock.close(linger=0)


def _addresses(addresses: tuple[Any, ...]) -> tuple[str, ...]:
    for address in addresses:
        if not isinstance(address, str):
            raise TypeError(f"an address must be a str, not {address!r}")
    return addresses


def _check_domain(domain: object) -> None:
    if not isinstance(domain, str):
        raise TypeError(f"a ZAP domain must be a str, not {domain!r}")
