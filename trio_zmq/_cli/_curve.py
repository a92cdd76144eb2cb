"""CURVE from the command line: the ``--curve-*`` arguments, their checks,
and the keys they set on a socket.

A KEY is the 40-character Z85 text, or ``@PATH`` to a certificate file as
``trio-zmq keys`` and :func:`zmq.auth.create_certificates` write it.

A secret key never comes from the command line itself, which every local
user can read (``ps``, ``/proc/PID/cmdline``): ``--curve-secret-key`` takes
only ``@PATH``; without it, a CURVE side takes its secret key (the Z85
text) from the environment variable :data:`SECRET_KEY_VARIABLE`, if set,
which only the process's own user (and root) can read.  A secret
certificate file that other users can open gets a warning that says how to
close it; it is used all the same, as pyzmq's
:func:`zmq.auth.create_certificates` writes secret files readable by all
under the usual umask (022).
"""

from __future__ import annotations

import argparse
import os
import shlex
import stat
import sys
from typing import Final

import zmq
import zmq.auth

import trio_zmq

from ._status import CommandError

#: Where a CURVE side's secret key (Z85) comes from without ``--curve-secret-key``.
SECRET_KEY_VARIABLE: Final = "TRIO_ZMQ_CURVE_SECRET_KEY"
#: The permission bits of a secret file that let other users in.
_OPEN_TO_OTHERS: Final = stat.S_IRWXG | stat.S_IRWXO


def secret_key_file(text: str) -> str:
    """An argparse type: ``@PATH``, never the secret key itself; the PATH."""
    if not text.startswith("@"):
        raise argparse.ArgumentTypeError(
            "a secret key on the command line can be read by every local user: "
            f"give its certificate file as @FILE, or the key in ${SECRET_KEY_VARIABLE}"
        )
    return text[1:]


def add_curve_arguments(parser: argparse.ArgumentParser) -> None:
    """``--curve-server``, ``--curve-server-key``, ``--curve-public-key`` and
    ``--curve-secret-key``."""
    curve = parser.add_argument_group("CURVE (a KEY is 40 Z85 characters, or @CERTIFICATE_FILE)")
    curve.add_argument(
        "--curve-server", action="store_true", help="be a CURVE server (needs the secret key)"
    )
    curve.add_argument("--curve-server-key", metavar="KEY", help="the server's public key")
    curve.add_argument("--curve-public-key", metavar="KEY", help="this side's public key")
    curve.add_argument(
        "--curve-secret-key",
        type=secret_key_file,
        metavar="@FILE",
        help=(
            "this side's secret key, from its certificate file; never the key itself "
            f"(default: the Z85 key in ${SECRET_KEY_VARIABLE}, if set)"
        ),
    )


def _secret_key_variable(args: argparse.Namespace) -> str | None:
    """The KEY in :data:`SECRET_KEY_VARIABLE`, if it applies: CURVE is on,
    and ``--curve-secret-key`` is not given."""
    if args.curve_secret_key is not None:
        return None
    if not (args.curve_server or args.curve_server_key is not None):
        return None
    return os.environ.get(SECRET_KEY_VARIABLE) or None


def _warn_if_open(prog: str, path: str) -> None:
    """One line on stderr if other users may open the secret file ``path``."""
    if os.name != "posix":
        return  # permission bits say nothing there
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return  # loading it says why
    if mode & _OPEN_TO_OTHERS:
        print(
            f"{prog}: warning: the secret key file {path} is open to other users "
            f"(mode {mode:04o}): chmod 600 {shlex.quote(path)}",
            file=sys.stderr,
            flush=True,
        )


def check_curve_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Errors in the CURVE arguments (exit status 2), and a warning about a
    secret certificate file that other users may open."""
    has_secret = args.curve_secret_key is not None or _secret_key_variable(args) is not None
    needs_secret = f"needs --curve-secret-key @FILE (or ${SECRET_KEY_VARIABLE})"
    if args.curve_server and not has_secret:
        parser.error(f"--curve-server {needs_secret}")
    if args.curve_server and args.curve_server_key is not None:
        parser.error("--curve-server and --curve-server-key exclude each other")
    if args.curve_public_key and not has_secret:
        parser.error(f"--curve-public-key {needs_secret}")
    if (args.curve_public_key or args.curve_secret_key is not None) and not (
        args.curve_server or args.curve_server_key
    ):
        parser.error("CURVE keys need --curve-server or --curve-server-key")
    if args.curve_secret_key is not None:
        _warn_if_open(parser.prog, args.curve_secret_key)


def _load_file(path: str) -> tuple[bytes, bytes | None]:
    try:
        return zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot load the certificate {path!r}: {exc}") from exc


def _public_key(text: str) -> bytes:
    """A public KEY from the command line."""
    if text.startswith("@"):
        return _load_file(text[1:])[0]
    key = text.encode()
    if len(key) != 40:
        raise CommandError(f"a CURVE key is 40 Z85 characters, not {len(key)}: {text!r}")
    return key


def _secret_key(args: argparse.Namespace) -> tuple[bytes | None, bytes] | None:
    """This side's (public key if known, secret key), or None; an error
    never shows the key."""
    if args.curve_secret_key is not None:
        public, secret = _load_file(args.curve_secret_key)
        if secret is None:
            raise CommandError(
                f"{args.curve_secret_key!r} holds no secret key (use the .key_secret file)"
            )
        return public, secret
    text = _secret_key_variable(args)
    if text is None:
        return None
    key = text.encode()
    if len(key) != 40:
        raise CommandError(
            f"${SECRET_KEY_VARIABLE}: a CURVE key is 40 Z85 characters, not {len(key)}"
        )
    return None, key


def apply_curve(sock: trio_zmq.Socket, args: argparse.Namespace) -> None:
    """Set ``sock``'s CURVE keys from the ``--curve-*`` arguments in ``args``
    (and the environment).

    Raises:
      CommandError: a key is malformed, or its certificate file cannot be read.
    """
    public: bytes | None = None
    secret: bytes | None = None
    keys = _secret_key(args)
    if keys is not None:
        public, secret = keys
    if args.curve_public_key is not None:
        public = _public_key(args.curve_public_key)
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
    sock.set(zmq.CURVE_SERVERKEY, _public_key(args.curve_server_key))
    sock.set(zmq.CURVE_PUBLICKEY, public)
    sock.set(zmq.CURVE_SECRETKEY, secret)
