"""``trio-zmq keys DIRECTORY NAME``: a CURVE certificate pair in pyzmq's format.

``NAME.key`` (the public key) and ``NAME.key_secret`` (both keys), in the
format :func:`zmq.auth.create_certificates` writes and
:func:`zmq.auth.load_certificate` reads (and so do the CURVE arguments of
the other tools: ``@PATH``).

The secret file is created readable and writable by its owner only (mode
0600, whatever the umask), never opened to others for a moment: it is
created with that mode, and ``--force`` writes a new file (mode 0600) next
to the old one and renames it over it.  The public file gets mode 0644 less
the umask, like any file.
"""

from __future__ import annotations

import argparse
import datetime
import os
import secrets
from typing import Final

import zmq

from ._command import Command
from ._status import CommandError, run_tool

#: The modes the two files are created with (the umask still applies).
SECRET_MODE: Final = 0o600
PUBLIC_MODE: Final = 0o644

_BANNER: Final = """\
#   ****  Generated on {now} by trio-zmq  ****
#   ZeroMQ CURVE {what} Certificate
#   {advice}

"""
_PUBLIC_ADVICE: Final = "Exchange securely, or verify its contents after the exchange."
_SECRET_ADVICE: Final = "DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``keys``' arguments."""
    parser.add_argument("directory", metavar="DIRECTORY")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--force", action="store_true", help="replace an existing pair")


def _certificate(public: bytes, secret: bytes | None = None) -> str:
    """The text of a certificate file: the public key, and ``secret`` if given."""
    now = datetime.datetime.now().isoformat(sep=" ", timespec="seconds")
    if secret is None:
        text = _BANNER.format(now=now, what="Public", advice=_PUBLIC_ADVICE)
    else:
        text = _BANNER.format(now=now, what="**Secret**", advice=_SECRET_ADVICE)
    text += f'metadata\ncurve\n    public-key = "{public.decode()}"\n'
    if secret is not None:
        text += f'    secret-key = "{secret.decode()}"\n'
    return text


def _create(path: str, text: str, mode: int) -> None:
    """Write ``text`` to a new file ``path`` created with ``mode``.

    Raises:
      FileExistsError: ``path`` exists (a symbolic link too).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def _write_file(path: str, text: str, mode: int, *, replace: bool) -> None:
    """Write ``text`` to ``path``, a file created with ``mode``.

    With ``replace``, an existing ``path`` is replaced: the text goes to a
    new file in the same directory, renamed over ``path`` once complete, so
    that what ``path`` names is never wider open than ``mode``.

    Raises:
      FileExistsError: ``path`` exists, and not ``replace``.
    """
    if not replace:
        _create(path, text, mode)
        return
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{secrets.token_hex(8)}.tmp")
    _create(temporary, text, mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _keys(directory: str, name: str, force: bool) -> int:
    public_path = os.path.join(directory, f"{name}.key")
    secret_path = public_path + "_secret"
    if not force:
        for path in (public_path, secret_path):
            if os.path.lexists(path):
                raise CommandError(f"{path} exists (--force replaces it)")
    os.makedirs(directory, exist_ok=True)
    public, secret = zmq.curve_keypair()
    try:
        _write_file(secret_path, _certificate(public, secret), SECRET_MODE, replace=force)
        _write_file(public_path, _certificate(public), PUBLIC_MODE, replace=force)
    except FileExistsError as exc:
        raise CommandError(f"{exc.filename} exists (--force replaces it)") from exc
    print(public_path)
    print(secret_path)
    return 0


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``trio-zmq keys``: returns the exit status."""
    return run_tool(parser.prog, lambda: _keys(args.directory, args.name, args.force))


COMMAND = Command(
    name="keys",
    help="write a CURVE certificate pair",
    description=(
        "Write DIRECTORY/NAME.key (public) and DIRECTORY/NAME.key_secret "
        "(public and secret, readable by its owner only) and print their paths."
    ),
    add_arguments=add_arguments,
    run=run,
)
