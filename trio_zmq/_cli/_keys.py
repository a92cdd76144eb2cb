"""``trio-zmq keys DIRECTORY NAME``: a CURVE certificate pair in pyzmq's format.

``NAME.key`` (the public key) and ``NAME.key_secret`` (both keys), as
``zmq.auth.create_certificates`` writes them and ``zmq.auth.load_certificate``
reads them (and so do the CURVE options of ``send``/``recv``: ``@PATH``).
"""

from __future__ import annotations

import argparse
import os

import zmq.auth

from ._command import Parser
from ._options import CommandError


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """The ``keys`` subcommand."""
    keys = commands.add_parser(
        "keys",
        help="write a CURVE certificate pair",
        description=(
            "Write DIRECTORY/NAME.key (public) and DIRECTORY/NAME.key_secret "
            "(public and secret) and print their paths."
        ),
    )
    keys.add_argument("directory", metavar="DIRECTORY")
    keys.add_argument("name", metavar="NAME")
    keys.add_argument("--force", action="store_true", help="replace an existing pair")


def keys(args: argparse.Namespace) -> int:
    """``trio-zmq keys``: returns the exit status."""
    public = os.path.join(args.directory, f"{args.name}.key")
    secret = public + "_secret"
    existing = [path for path in (public, secret) if os.path.exists(path)]
    if existing and not args.force:
        raise CommandError(f"{existing[0]} exists (--force replaces it)")
    os.makedirs(args.directory, exist_ok=True)
    public, secret = zmq.auth.create_certificates(args.directory, args.name)
    print(public)
    print(secret)
    return 0
