"""Who gets in: the authenticator's rules, through real handshakes.

Every test runs an :class:`trio_zmq.auth.Authenticator` on the test's
context and connects real libzmq clients over tcp on 127.0.0.1; the verdict
is read where an application would read it: on a monitor of the client
(HANDSHAKE_SUCCEEDED, or HANDSHAKE_FAILED_AUTH with the ZAP status code)
and, for the accepted, by a message that arrives.  The status texts, which
libzmq does not pass on to the client, are read from the authenticator's
log.
"""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest
import zmq
import zmq.auth
from zmq.utils import z85

import trio_zmq
import trio_zmq.auth

from tests.auth.support import (
    SUCCEEDED,
    Certificates,
    connect_and_watch,
    handshake_end,
    make_keys,
    monitored,
    plain_client,
    refused,
    round_trip,
    tcp_server,
)
from tests.conftest import ON_EVERY_LOOP
from tests.curve import curve_client, curve_server

pytestmark = ON_EVERY_LOOP


def status_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The status texts of the replies the authenticator logged, in order."""
    return [
        record.getMessage().rsplit(": ", 1)[1]
        for record in caplog.records
        if record.name == "trio_zmq.auth" and record.getMessage().startswith("ZAP ")
    ]


@pytest.fixture
def zap_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="trio_zmq.auth")
    return caplog


async def user_id(server: trio_zmq.Socket, client: trio_zmq.Socket) -> str:
    """Send a message from ``client``; the User-Id libzmq attached to it."""
    with anyio.fail_after(5):
        await client.send(b"who am I")
        frame = await server.recv(copy=False)
    assert frame.bytes == b"who am I"
    return str(frame.get("User-Id"))


# ----------------------------------------------------------------------
# Addresses (NULL clients: libzmq asks ZAP about them only if the server
# socket has a ZAP domain)
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configure", "expected", "text"),
    [
        (lambda auth: auth.deny("127.0.0.1"), refused(400), "400 Address denied"),
        (lambda auth: auth.deny("192.0.2.1"), SUCCEEDED, "200 OK"),
        (lambda auth: auth.allow("127.0.0.1"), SUCCEEDED, "200 OK"),
        (lambda auth: auth.allow("192.0.2.1"), refused(400), "400 Address not allowed"),
    ],
    ids=["deny-it", "deny-another", "allow-it", "allow-another"],
)
async def test_address_rules_over_tcp(
    ctx: trio_zmq.Context,
    zap_log: pytest.LogCaptureFixture,
    configure: object,
    expected: tuple[zmq.Event, int],
    text: str,
) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    assert callable(configure)
    configure(auth)
    async with auth:
        server = ctx.socket(zmq.PULL)
        server.zap_domain = b"global"
        address = tcp_server(server)
        client = ctx.socket(zmq.PUSH)
        assert await connect_and_watch(client, address) == expected
        if expected == SUCCEEDED:
            assert await user_id(server, client) == "anonymous"
    assert status_texts(zap_log) == [text]


async def test_null_without_zap_domain_is_not_asked(
    ctx: trio_zmq.Context, zap_log: pytest.LogCaptureFixture
) -> None:
    """libzmq's rule, not ours: a NULL server socket without a ZAP domain
    never asks the handler, so a deny list does not apply to it."""
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.deny("127.0.0.1")
    async with auth:
        server = ctx.socket(zmq.PULL)
        client = ctx.socket(zmq.PUSH)
        assert await connect_and_watch(client, tcp_server(server)) == SUCCEEDED
        await round_trip(server, client, b"unchecked")
    assert status_texts(zap_log) == []


# ----------------------------------------------------------------------
# PLAIN
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "expected", "text"),
    [
        ("admin", "secret", SUCCEEDED, "200 OK"),
        ("admin", "wrong", refused(400), "400 Invalid password"),
        ("nobody", "secret", refused(400), "400 Invalid username"),
    ],
    ids=["right", "wrong-password", "unknown-user"],
)
async def test_plain(
    ctx: trio_zmq.Context,
    zap_log: pytest.LogCaptureFixture,
    username: str,
    password: str,
    expected: tuple[zmq.Event, int],
    text: str,
) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_plain(passwords={"admin": "secret"})
    async with auth:
        server = ctx.socket(zmq.PULL)
        server.plain_server = True
        address = tcp_server(server)
        client = plain_client(ctx, zmq.PUSH, username, password)
        assert await connect_and_watch(client, address) == expected
        if expected == SUCCEEDED:
            assert await user_id(server, client) == "admin"
    assert status_texts(zap_log) == [text]


async def test_plain_without_passwords_is_refused(
    ctx: trio_zmq.Context, zap_log: pytest.LogCaptureFixture
) -> None:
    async with trio_zmq.auth.Authenticator(ctx):
        server = ctx.socket(zmq.PULL)
        server.plain_server = True
        client = plain_client(ctx, zmq.PUSH, "admin", "secret")
        assert await connect_and_watch(client, tcp_server(server)) == refused(400)
    assert status_texts(zap_log) == ["400 No passwords defined"]


# ----------------------------------------------------------------------
# CURVE with a certificate directory made by zmq.auth.create_certificates
# ----------------------------------------------------------------------


async def test_curve_known_key(ctx: trio_zmq.Context, certs: Certificates) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve(location=certs.authorized)
    async with auth:
        server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
        client = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.client)
        assert await connect_and_watch(client, tcp_server(server)) == SUCCEEDED
        # The default user id is the client's public key in Z85, as pyzmq's.
        assert await user_id(server, client) == certs.client.public.decode()


async def test_curve_unknown_key_seen_on_both_monitors(
    ctx: trio_zmq.Context, certs: Certificates, zap_log: pytest.LogCaptureFixture
) -> None:
    """A valid key pair whose public key is not in the directory."""
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve(location=str(certs.authorized))
    async with auth:
        server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
        async with monitored(server) as server_monitor:
            address = tcp_server(server)
            client = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.stranger)
            assert await connect_and_watch(client, address) == refused(400)
            assert await handshake_end(server_monitor) == refused(400)
    assert status_texts(zap_log) == ["400 Unknown key"]


async def test_curve_wrong_secret_key_never_reaches_the_authenticator(
    ctx: trio_zmq.Context, certs: Certificates
) -> None:
    """A client that presents an authorized public key without its secret
    key fails the CURVE handshake itself: libzmq checks the key before it
    asks ZAP, so even a callback that would let anybody in is not asked."""
    asked: list[bytes] = []

    class AnybodyProvider:
        def callback(self, domain: str, client_public_key: bytes) -> bool:
            asked.append(client_public_key)
            return True

    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve_callback(credentials_provider=AnybodyProvider())
    async with auth:
        server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
        async with monitored(server) as server_monitor:
            address = tcp_server(server)
            impostor = (certs.client.public, certs.stranger.secret)
            client = curve_client(ctx.socket(zmq.PUSH), certs.server.public, impostor)
            event, _ = await connect_and_watch(client, address)
            assert event == zmq.Event.HANDSHAKE_FAILED_NO_DETAIL
            event, value = await handshake_end(server_monitor)
            assert event == zmq.Event.HANDSHAKE_FAILED_PROTOCOL
            assert value == zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
    assert asked == []


async def test_curve_directory_is_read_when_configured(
    ctx: trio_zmq.Context, certs: Certificates, tmp_path: Path
) -> None:
    """As in pyzmq: a certificate added later counts after configure_curve
    is called again."""
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve(location=certs.authorized)
    late = make_keys(tmp_path / "late", "late")
    (certs.authorized / "late.key").write_bytes(late.public_file.read_bytes())
    async with auth:
        server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
        address = tcp_server(server)
        first = curve_client(ctx.socket(zmq.PUSH), certs.server.public, late)
        assert await connect_and_watch(first, address) == refused(400)
        auth.configure_curve(location=certs.authorized)
        second = curve_client(ctx.socket(zmq.PUSH), certs.server.public, late)
        assert await connect_and_watch(second, address) == SUCCEEDED


async def test_curve_allow_any(ctx: trio_zmq.Context, certs: Certificates) -> None:
    assert trio_zmq.auth.CURVE_ALLOW_ANY == zmq.auth.CURVE_ALLOW_ANY
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve(location=zmq.auth.CURVE_ALLOW_ANY)
    async with auth:
        server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
        address = tcp_server(server)
        for keys in (certs.client, certs.stranger, zmq.curve_keypair()):
            client = curve_client(ctx.socket(zmq.PUSH), certs.server.public, keys)
            assert await connect_and_watch(client, address) == SUCCEEDED
            await round_trip(server, client, b"anyone")


async def test_curve_callback_plain_function(ctx: trio_zmq.Context, certs: Certificates) -> None:
    """A synchronous callback, pyzmq's kind, gets the domain and the Z85 key."""
    asked: list[tuple[str, bytes]] = []

    class Provider:
        def callback(self, domain: str, client_public_key: bytes) -> bool:
            asked.append((domain, client_public_key))
            return client_public_key == certs.client.public

    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve_callback(credentials_provider=Provider())
    async with auth:
        server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
        address = tcp_server(server)
        good = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.client)
        assert await connect_and_watch(good, address) == SUCCEEDED
        bad = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.stranger)
        assert await connect_and_watch(bad, address) == refused(400)
    assert asked == [("*", certs.client.public), ("*", certs.stranger.public)]


async def test_curve_user_id_mapping(ctx: trio_zmq.Context, certs: Certificates) -> None:
    """pyzmq's override of curve_user_id is a constructor argument here."""
    names = {z85.decode(certs.client.public): "alice"}
    auth = trio_zmq.auth.Authenticator(ctx, curve_user_id=names.__getitem__)
    auth.configure_curve(location=certs.authorized)
    assert auth.curve_user_id(z85.decode(certs.client.public)) == "alice"
    async with auth:
        server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
        client = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.client)
        assert await connect_and_watch(client, tcp_server(server)) == SUCCEEDED
        assert await user_id(server, client) == "alice"


# ----------------------------------------------------------------------
# ZAP domains
# ----------------------------------------------------------------------


async def test_domains_have_policies_of_their_own(
    ctx: trio_zmq.Context, certs: Certificates, zap_log: pytest.LogCaptureFixture
) -> None:
    """Domain "strict" checks the certificate directory, "open" lets any key
    in, "asked" asks a callback; a server without a domain ("*") has no
    CURVE policy here, so it refuses.  Configuring one domain leaves the
    others alone (in pyzmq, a callback for any domain would hide every
    domain's certificates, and allow-any would open every domain)."""
    asked: list[str] = []

    class Provider:
        def callback(self, domain: str, client_public_key: bytes) -> bool:
            asked.append(domain)
            return False

    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve("strict", certs.authorized)
    auth.configure_curve("open", trio_zmq.auth.CURVE_ALLOW_ANY)
    auth.configure_curve_callback("asked", Provider())
    async with auth:
        servers = {}
        for domain in ("strict", "open", "asked", ""):
            server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
            if domain:  # libzmq refuses an empty ZAP_DOMAIN: "" is the default
                server.zap_domain = domain.encode()
            servers[domain] = tcp_server(server)
        outcomes = {}
        for who, keys in (("client", certs.client), ("stranger", certs.stranger)):
            for domain, address in servers.items():
                client = curve_client(ctx.socket(zmq.PUSH), certs.server.public, keys)
                outcomes[who, domain] = await connect_and_watch(client, address)
    assert outcomes == {
        ("client", "strict"): SUCCEEDED,
        ("client", "open"): SUCCEEDED,
        ("client", "asked"): refused(400),
        ("client", ""): refused(400),
        ("stranger", "strict"): refused(400),
        ("stranger", "open"): SUCCEEDED,
        ("stranger", "asked"): refused(400),
        ("stranger", ""): refused(400),
    }
    assert asked == ["asked", "asked"]
    assert status_texts(zap_log).count("400 Unknown domain") == 2


async def test_plain_domains(ctx: trio_zmq.Context, zap_log: pytest.LogCaptureFixture) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_plain("staff", {"admin": "secret"})
    async with auth:
        outcomes = []
        for domain in ("staff", "guests"):
            server = ctx.socket(zmq.PULL)
            server.plain_server = True
            server.zap_domain = domain.encode()
            client = plain_client(ctx, zmq.PUSH, "admin", "secret")
            outcomes.append(await connect_and_watch(client, tcp_server(server)))
    assert outcomes == [SUCCEEDED, refused(400)]
    assert status_texts(zap_log) == ["200 OK", "400 Invalid domain"]
