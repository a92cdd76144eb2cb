"""Fixtures of the authentication tests (helpers: ``tests/auth/support.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.auth.support import Certificates, make_certificates


@pytest.fixture
def certs(tmp_path: Path) -> Certificates:
    """Certificates made by ``zmq.auth.create_certificates`` in a temporary
    directory: a server, an authorized client and a stranger."""
    return make_certificates(tmp_path)
