"""What the socket commands (``send``, ``recv``, ``monitor``, ``proxy``) share.

* the options that make a socket: ``-b/--bind``, ``-c/--connect``,
  ``-t/--type`` and the CURVE keys, and :func:`open_socket`, which applies them;
* stdin and stdout for trio: :class:`Stdin` reads in a worker thread, a
  cancelled or interrupted read abandons it (a terminal read would otherwise
  hold Ctrl-C until Enter), and :func:`write_stdout` writes and flushes;
* :func:`run_tool`, :func:`~trio_zmq._cli._command.run_command` plus the
  exit statuses of a tool: 1 and one line for a runtime error, 0 and
  nothing at all when the reader of stdout went away (``| head``).
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence

import trio
import zmq
import zmq.auth

import trio_zmq

from ._command import positive_int, run_command

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

#: The socket types by name, as ``-t`` takes them.
SOCKET_TYPES = {
    name: getattr(zmq, name)
    for name in ("PUSH", "PULL", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PAIR")
}
#: How much stdin one read takes.
_CHUNK = 65536


class CommandError(Exception):
    """A runtime error a command reports in one line, with exit status 1."""


def socket_type(text: str) -> str:
    """An argparse type: a socket type name, any case."""
    name = text.upper()
    if name not in SOCKET_TYPES:
        raise argparse.ArgumentTypeError(
            f"unknown socket type {text!r} (one of {', '.join(SOCKET_TYPES)})"
        )
    return name


def positive_float(text: str) -> float:
    """An argparse type: a number of seconds above zero."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


class Progress:
    """``--progress``: a count on stderr, at most once a second, and at the end."""

    def __init__(self, prog: str, enabled: bool) -> None:
        self.count = 0
        self._prog = prog
        self._enabled = enabled
        self._shown_at = trio.current_time()

    def tick(self) -> None:
        """One more message."""
        self.count += 1
        if self._enabled and trio.current_time() - self._shown_at >= 1.0:
            self.show()

    def show(self) -> None:
        """Print the count now."""
        if self._enabled:
            print(f"{self._prog}: {self.count} messages", file=sys.stderr, flush=True)
            self._shown_at = trio.current_time()


def delimiter(text: str) -> bytes:
    """An argparse type: a frame delimiter; backslash escapes (``\\t``) work."""
    value = codecs.escape_decode(text.encode())[0]
    assert isinstance(value, bytes)
    if not value:
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def add_socket_options(parser: argparse.ArgumentParser, default_type: str) -> None:
    """``-b``, ``-c``, ``-t`` and the CURVE options."""
    parser.add_argument(
        "-b", "--bind", action="append", default=[], metavar="ENDPOINT", help="bind to ENDPOINT"
    )
    parser.add_argument(
        "-c",
        "--connect",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="connect to ENDPOINT",
    )
    parser.add_argument(
        "-t",
        "--type",
        type=socket_type,
        default=default_type,
        help=f"socket type ({default_type})",
    )
    parser.add_argument(
        "--identity",
        metavar="TEXT",
        help="this socket's routing id, as a ROUTER peer sees it (default: libzmq's)",
    )
    add_curve_options(parser)


def add_curve_options(parser: argparse.ArgumentParser) -> None:
    """The CURVE options; a key is Z85 text or ``@path`` to a certificate file."""
    curve = parser.add_argument_group("CURVE (a key is 40 Z85 characters, or @CERTIFICATE_FILE)")
    curve.add_argument(
        "--curve-server", action="store_true", help="be a CURVE server (needs the secret key)"
    )
    curve.add_argument("--curve-server-key", metavar="KEY", help="the server's public key")
    curve.add_argument("--curve-public-key", metavar="KEY", help="this side's public key")
    curve.add_argument("--curve-secret-key", metavar="KEY", help="this side's secret key")


def add_count_and_timeout(parser: argparse.ArgumentParser, what: str) -> None:
    """``-n/--count`` (stop after COUNT ``what``) and ``--timeout SECONDS``."""
    parser.add_argument(
        "-n", "--count", type=positive_int, metavar="COUNT", help=f"stop after COUNT {what}"
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        metavar="SECONDS",
        help="give up (exit status 1) when not done within SECONDS",
    )


def check_socket_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Errors in the socket options, before anything starts (exit status 2)."""
    if not args.bind and not args.connect:
        parser.error("give at least one -b/--bind or -c/--connect ENDPOINT")
    check_curve_options(parser, args)


def check_curve_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Errors in the CURVE options (exit status 2)."""
    if args.curve_server and args.curve_secret_key is None:
        parser.error("--curve-server needs --curve-secret-key")
    if args.curve_server and args.curve_server_key is not None:
        parser.error("--curve-server and --curve-server-key exclude each other")
    if args.curve_public_key and not args.curve_secret_key:
        parser.error("--curve-public-key needs --curve-secret-key")
    if (args.curve_public_key or args.curve_secret_key) and not (
        args.curve_server or args.curve_server_key
    ):
        parser.error("CURVE keys need --curve-server or --curve-server-key")


def _load(text: str, *, secret: bool) -> tuple[bytes, bytes | None]:
    """A key from the command line: (public, secret) from ``@path``, or the key."""
    if text.startswith("@"):
        try:
            public, secret_key = zmq.auth.load_certificate(text[1:])
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot load the certificate {text[1:]!r}: {exc}") from exc
        if secret and secret_key is None:
            raise CommandError(f"{text[1:]!r} holds no secret key (use the .key_secret file)")
        return public, secret_key
    key = text.encode()
    if len(key) != 40:
        raise CommandError(f"a CURVE key is 40 Z85 characters, not {len(key)}: {text!r}")
    return (b"", key) if secret else (key, None)


def apply_curve(sock: trio_zmq.Socket, args: argparse.Namespace) -> None:
    """Set ``sock``'s CURVE keys from the ``--curve-*`` options in ``args``."""
    public: bytes | None = None
    secret: bytes | None = None
    if args.curve_secret_key is not None:
        public_from_file, secret = _load(args.curve_secret_key, secret=True)
        public = public_from_file or None
    if args.curve_public_key is not None:
        public = _load(args.curve_public_key, secret=False)[0]
    if args.curve_server:
        assert secret is not None
        sock.set(zmq.CURVE_SERVER, 1)
        sock.set(zmq.CURVE_SECRETKEY, secret)
        if public is not None:
            sock.set(zmq.CURVE_PUBLICKEY, public)
        return
    if args.curve_server_key is None:
        return
    if secret is None:
        # A client needs a key pair of its own; without a ZAP handler on the
        # server any pair will do, so one is made for this run.
        public, secret = zmq.curve_keypair()
    elif public is None:
        public = zmq.curve_public(secret)
    sock.set(zmq.CURVE_SERVERKEY, _load(args.curve_server_key, secret=False)[0])
    sock.set(zmq.CURVE_PUBLICKEY, public)
    sock.set(zmq.CURVE_SECRETKEY, secret)


def make_socket(
    ctx: trio_zmq.Context, args: argparse.Namespace, kind: int | None = None
) -> trio_zmq.Socket:
    """A socket of ``args.type`` (or ``kind``) with its identity, CURVE keys
    and subscriptions, not yet bound or connected (see :func:`attach`)."""
    sock = ctx.socket(SOCKET_TYPES[args.type] if kind is None else kind)
    if args.identity is not None:
        sock.set(zmq.ROUTING_ID, args.identity.encode())
    apply_curve(sock, args)
    if args.type == "SUB":
        for prefix in getattr(args, "subscribe", None) or [""]:
            sock.subscribe(prefix)
    return sock


def split_endpoint(text: str, default: str) -> tuple[str, str]:
    """``bind:tcp://...`` -> ``("bind", "tcp://...")``, ``connect:...`` likewise;
    without a prefix, ``(default, text)``."""
    for how in ("bind", "connect"):
        if text.startswith(how + ":"):
            return how, text[len(how) + 1 :]
    return default, text


def attach(sock: trio_zmq.Socket, args: argparse.Namespace) -> None:
    """Bind ``sock`` to each ``-b`` endpoint and connect it to each ``-c`` one."""
    for endpoint in args.bind:
        sock.bind(endpoint)
    for endpoint in args.connect:
        sock.connect(endpoint)


def open_socket(ctx: trio_zmq.Context, args: argparse.Namespace) -> trio_zmq.Socket:
    """:func:`make_socket`, bound and connected."""
    sock = make_socket(ctx, args)
    attach(sock, args)
    return sock


def open_context() -> trio_zmq.Context:
    """The commands' context: sockets do not linger unless a command says so."""
    # A command that lingers on purpose (send, to deliver what it queued) may
    # be interrupted then: that must not end in a warning.
    warnings.simplefilter("ignore", trio_zmq.ContextTermWarning)
    return trio_zmq.Context(linger=0)


@contextlib.contextmanager
def bounded(timeout: float | None) -> Iterator[None]:
    """``--timeout``: :exc:`trio.TooSlowError` after ``timeout`` seconds (None: never)."""
    with trio.fail_after(math.inf if timeout is None else timeout):
        yield


class Stdin:
    """Standard input, read in a worker thread that a cancellation abandons."""

    def __init__(self) -> None:
        self._fd = sys.stdin.fileno()
        self._buffer = b""
        self._eof = False

    async def _fill(self) -> None:
        chunk = await trio.to_thread.run_sync(os.read, self._fd, _CHUNK, abandon_on_cancel=True)
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True

    async def readline(self) -> bytes | None:
        """The next line without its newline (``\\n`` or ``\\r\\n``); None at the end."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
                return line.removesuffix(b"\r")
            if self._eof:
                line, self._buffer = self._buffer, b""
                return line or None
            await self._fill()

    async def read_all(self) -> bytes:
        """Everything up to the end of input."""
        while not self._eof:
            await self._fill()
        data, self._buffer = self._buffer, b""
        return data


def _write_all(data: bytes) -> None:
    out = sys.stdout.buffer
    out.write(data)
    out.flush()


async def write_stdout(data: bytes) -> None:
    """Write ``data`` to stdout and flush it, off the trio thread."""
    await trio.to_thread.run_sync(_write_all, data, abandon_on_cancel=True)


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


#: What a command reports in one line with exit status 1.
_RUNTIME_ERRORS = (CommandError, zmq.ZMQError, OSError, trio.TooSlowError)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: its reader is gone, and the interpreter's
    last flush must not complain about it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run_tool(prog: str, command: Callable[[], int]) -> int:
    """:func:`run_command`, and: a closed stdout (``| head``) ends the
    command quietly with exit status 0; a runtime error (ZeroMQ, a file, a
    ``--timeout``, a bad key) is one line on stderr and exit status 1."""

    def guarded() -> int:
        try:
            return command()
        except Exception as exc:
            leaves: Sequence[BaseException] = list(_leaves(exc))
            if any(isinstance(leaf, BrokenPipeError) for leaf in leaves):
                _quiet_stdout()
                return 0
            for leaf in leaves:
                if isinstance(leaf, trio.TooSlowError):
                    print(f"{prog}: error: timed out", file=sys.stderr, flush=True)
                    return 1
                if isinstance(leaf, _RUNTIME_ERRORS):
                    print(f"{prog}: error: {leaf}", file=sys.stderr, flush=True)
                    return 1
            raise

    return run_command(prog, guarded)
