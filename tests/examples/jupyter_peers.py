"""The Jupyter examples' real peers, jupyter_client and ipykernel: found, or
reported missing with the command that installs them (tests/peers.py)."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from tests.peers import missing

if TYPE_CHECKING:
    from jupyter_client.session import Session

INSTALL = 'pip install ".[examples]"'


def require(module: str) -> None:
    """Fail or skip the calling test unless ``module`` can be imported."""
    if importlib.util.find_spec(module) is None:
        missing(module, INSTALL)


def require_jupyter_client() -> None:
    require("jupyter_client")


def jupyter_client_session(key: bytes) -> Session:
    """jupyter_client's own Session, signing with ``key`` (HMAC-SHA256)."""
    from jupyter_client.session import Session

    return Session(key=key, signature_scheme="hmac-sha256")
