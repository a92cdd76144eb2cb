"""CURVE from the command line: the ``--curve-*`` arguments, their checks,
and the keys they set on a socket.

A KEY is the 40-character Z85 text, or ``@PATH`` to a certificate file as
``trio-zmq keys`` and :func:`zmq.auth.create_certificates` write it.
"""

from __future__ import annotations

import argparse

import zmq
import zmq.auth

import trio_zmq

from ._status import CommandError


def add_curve_arguments(parser: argparse.ArgumentParser) -> None:
    """``--curve-server``, ``--curve-server-key``, ``--curve-public-key`` and
    ``--curve-secret-key``."""
    curve = parser.add_argument_group("CURVE (a key is 40 Z85 characters, or @CERTIFICATE_FILE)")
    curve.add_argument(
        "--curve-server", action="store_true", help="be a CURVE server (needs the secret key)"
    )
    curve.add_argument("--curve-server-key", metavar="KEY", help="the server's public key")
    curve.add_argument("--curve-public-key", metavar="KEY", help="this side's public key")
    curve.add_argument("--curve-secret-key", metavar="KEY", help="this side's secret key")


def check_curve_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Errors in the CURVE arguments (exit status 2)."""
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
    """Set ``sock``'s CURVE keys from the ``--curve-*`` arguments in ``args``.

    Raises:
      CommandError: a key is malformed, or its certificate file cannot be read.
    """
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
