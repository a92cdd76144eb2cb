"""Configuring an authenticator: pyzmq's methods, and a clear exception for
bad input before anything is served (where pyzmq only logs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import zmq

import trio_zmq
import trio_zmq.auth

from tests.auth.support import Certificates


def test_needs_a_trio_zmq_context() -> None:
    zctx = zmq.Context()
    try:
        with pytest.raises(TypeError, match="ThreadAuthenticator"):
            trio_zmq.auth.Authenticator(zctx)  # type: ignore[arg-type]
    finally:
        zctx.term()


def test_constructor_arguments(ctx: trio_zmq.Context) -> None:
    with pytest.raises(LookupError):
        trio_zmq.auth.Authenticator(ctx, encoding="no-such-codec")
    with pytest.raises(TypeError, match="curve_user_id"):
        trio_zmq.auth.Authenticator(ctx, curve_user_id="alice")  # type: ignore[arg-type]
    auth = trio_zmq.auth.Authenticator(ctx)
    assert auth.context is ctx
    assert auth.log.name == "trio_zmq.auth"
    # pyzmq's default CURVE user id: the public key in Z85.
    assert auth.curve_user_id(bytes(32)) == zmq.utils.z85.encode(bytes(32)).decode()


def test_allow_and_deny_exclude_each_other(ctx: trio_zmq.Context) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.allow("127.0.0.1")
    auth.allow("127.0.0.2", "127.0.0.3")
    with pytest.raises(ValueError, match="not both"):
        auth.deny("10.0.0.1")
    other = trio_zmq.auth.Authenticator(ctx)
    other.deny("10.0.0.1")
    with pytest.raises(ValueError, match="not both"):
        other.allow("127.0.0.1")
    with pytest.raises(TypeError, match="address must be a str"):
        other.deny(b"10.0.0.2")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"domain": b"x", "passwords": {"u": "p"}}, "domain must be a str"),
        ({"passwords": [("u", "p")]}, "must be a dict"),
        ({"passwords": {"u": b"p"}}, "dict of str to str"),
        ({"passwords": {1: "p"}}, "dict of str to str"),
    ],
)
def test_configure_plain_checks_its_input(
    ctx: trio_zmq.Context, arguments: dict[str, Any], message: str
) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    with pytest.raises(TypeError, match=message):
        auth.configure_plain(**arguments)


def test_configure_plain_errors_name_no_password(ctx: trio_zmq.Context) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    passwords: dict[str, Any] = {"root": "fine", "admin": b"pw-0451"}
    with pytest.raises(TypeError, match="user 'admin' has a bytes password") as error:
        auth.configure_plain(passwords=passwords)
    assert "pw-0451" not in str(error.value)


def test_configure_plain_keeps_a_copy(ctx: trio_zmq.Context) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    passwords = {"admin": "secret"}
    auth.configure_plain(passwords=passwords)
    passwords["admin"] = "changed behind its back"
    assert auth._policy.passwords == {"*": {"admin": "secret"}}
    # None or an empty table changes nothing, as in pyzmq.
    auth.configure_plain(passwords=None)
    auth.configure_plain(passwords={})
    assert auth._policy.passwords == {"*": {"admin": "secret"}}


def test_configure_curve_raises_for_a_missing_directory(
    ctx: trio_zmq.Context, tmp_path: Path
) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    with pytest.raises(OSError, match="Invalid certificate directory"):
        auth.configure_curve(location=tmp_path / "missing")
    (tmp_path / "broken.key").write_text("curve\n")
    with pytest.raises(ValueError, match="No public key"):
        auth.configure_curve(location=tmp_path)
    with pytest.raises(TypeError, match="domain must be a str"):
        auth.configure_curve(None, trio_zmq.auth.CURVE_ALLOW_ANY)  # type: ignore[arg-type]


def test_configure_curve_reads_public_certificates(
    ctx: trio_zmq.Context, certs: Certificates
) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve("d", certs.authorized)
    assert auth._policy.curve["d"] == frozenset({certs.client.public})


def test_configure_curve_callback_needs_a_provider(ctx: trio_zmq.Context) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    with pytest.raises(TypeError, match="callback"):
        auth.configure_curve_callback()
    with pytest.raises(TypeError, match="callback"):
        auth.configure_curve_callback(credentials_provider=lambda d, k: True)  # type: ignore[arg-type]


def test_gssapi_is_not_supported(ctx: trio_zmq.Context) -> None:
    with pytest.raises(NotImplementedError, match="GSSAPI"):
        trio_zmq.auth.Authenticator(ctx).configure_gssapi()


def test_public_names() -> None:
    """trio_zmq.auth is a subpackage of its own: nothing is re-exported."""
    assert not hasattr(trio_zmq, "Authenticator")
    for name in trio_zmq.auth.__all__:
        value = getattr(trio_zmq.auth, name)
        assert isinstance(value, str) or value.__doc__, name
    assert trio_zmq.auth.__doc__
