"""``trio-zmq keys DIRECTORY NAME``: a CURVE certificate pair in pyzmq's format.

``NAME.key`` (the public key) and ``NAME.key_secret`` (both keys), as
:func:`zmq.auth.create_certificates` writes them and
:func:`zmq.auth.load_certificate` reads them (and so do the CURVE arguments
of the other tools: ``@PATH``).
"""

from __future__ import annotations

import argparse
import os

import zmq.auth

from ._command import Command
from ._status import CommandError, run_tool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``keys``' arguments."""
    parser.add_argument("directory", metavar="DIRECTORY")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--force", action="store_true", help="replace an existing pair")


def _keys(directory: str, name: str, force: bool) -> int:
    public = os.path.join(directory, f"{name}.key")
    secret = public + "_secret"
    existing = [path for path in (public, secret) if os.path.exists(path)]
    if existing and not force:
        raise CommandError(f"{existing[0]} exists (--force replaces it)")
    os.makedirs(directory, exist_ok=True)
    public, secret = zmq.auth.create_certificates(directory, name)
    print(public)
    print(secret)
    return 0


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``trio-zmq keys``: returns the exit status."""
    return run_tool(parser.prog, lambda: _keys(args.directory, args.name, args.force))


COMMAND = Command(
    name="keys",
    help="write a CURVE certificate pair",
    description=(
        "Write DIRECTORY/NAME.key (public) and DIRECTORY/NAME.key_secret "
        "(public and secret) and print their paths."
    ),
    add_arguments=add_arguments,
    run=run,
)
