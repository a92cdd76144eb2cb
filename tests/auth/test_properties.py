"""pyzmq's rules, as pyzmq applies them: hypothesis draws configurations and
ZAP requests, and our authenticator's reply must be pyzmq's, frame for frame.

The oracle is pyzmq's own ``zmq.auth.Authenticator.handle_zap_message``
(its reply captured through its ``_send_zap_reply`` hook); ours is the real
authenticator on a real context, asked by a DEALER at the ZAP endpoint, as
libzmq would.  Drawn: allow or deny lists, PLAIN tables per domain, CURVE
certificate directories per domain (made by ``zmq.auth.create_certificates``),
and requests with any mechanism of the three, right and wrong credentials,
other versions and too few frames.  Left out: what differs on purpose
(docs/auth.md): GSSAPI, CURVE keys of other lengths, allow-any and
callbacks across domains.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import anyio
import pytest
import zmq
import zmq.auth
from hypothesis import event, given
from hypothesis import strategies as st
from zmq.utils import z85

import trio_zmq
import trio_zmq.auth

from tests.helpers import recv_frames

ADDRESSES = ["127.0.0.1", "10.0.0.1", "192.0.2.1"]
DOMAINS = ["", "*", "a", "b"]
USERS = ["admin", "guest"]
PASSWORDS = ["secret", "hunter2"]
KEY_NAMES = ["k0", "k1", "k2"]


@pytest.fixture(scope="module")
def key_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[Any, Path]]:
    """Three CURVE keys (raw 32 bytes by name) and a certificate directory
    for every subset of them."""
    root = tmp_path_factory.mktemp("keys")
    keys = {}
    for name in KEY_NAMES:
        public_file, _ = zmq.auth.create_certificates(root, name)
        public, _ = zmq.auth.load_certificate(public_file)
        keys[name] = z85.decode(public)
    dirs: dict[Any, Path] = {}
    for size in range(len(KEY_NAMES) + 1):
        for subset in itertools.combinations(KEY_NAMES, size):
            directory = root / ("set-" + "-".join(subset))
            directory.mkdir()
            for name in subset:
                (directory / f"{name}.key").write_bytes((root / f"{name}.key").read_bytes())
            dirs[frozenset(subset)] = directory
    return keys, dirs


configurations = st.fixed_dictionaries(
    {
        "screen": st.sampled_from(["none", "allow", "deny"]),
        "addresses": st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=2),
        "plain": st.dictionaries(
            st.sampled_from(DOMAINS[1:]),
            st.dictionaries(st.sampled_from(USERS), st.sampled_from(PASSWORDS), min_size=1),
            max_size=2,
        ),
        "curve": st.dictionaries(
            st.sampled_from(DOMAINS[1:]),
            st.frozensets(st.sampled_from(KEY_NAMES)),
            max_size=2,
        ),
    }
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    mechanism = draw(st.sampled_from(["NULL", "PLAIN", "CURVE"]))
    # PLAIN credentials are frames; CURVE ones name a key of key_dirs.
    credentials: list[bytes] | list[str]
    if mechanism == "PLAIN":
        credentials = draw(
            st.sampled_from(
                [
                    [user.encode(), password.encode()]
                    for user in [*USERS, "nobody"]
                    for password in PASSWORDS
                ]
                + [[b"admin"]]
            )
        )
    elif mechanism == "CURVE":
        credentials = [draw(st.sampled_from([*KEY_NAMES, "unknown"]))]
    else:
        credentials = []
    return {
        "version": draw(st.sampled_from([b"1.0", b"1.0", b"1.0", b"0.9"])),
        "domain": draw(st.sampled_from(DOMAINS)),
        "address": draw(st.sampled_from(ADDRESSES)),
        "mechanism": mechanism,
        "credentials": credentials,
        "truncated": draw(st.booleans()) and draw(st.booleans()),
    }


def request_frames(request: dict[str, Any], keys: dict[str, bytes]) -> list[bytes]:
    credentials = [
        keys.get(c, bytes(32)) if isinstance(c, str) else c for c in request["credentials"]
    ]
    frames = [
        request["version"],
        b"42",
        request["domain"].encode(),
        request["address"].encode(),
        b"identity",
        request["mechanism"].encode(),
        *credentials,
    ]
    return frames[:3] if request["truncated"] else frames


def configure(auth: Any, configuration: dict[str, Any], dirs: dict[Any, Path]) -> None:
    """The same calls on pyzmq's authenticator and ours."""
    if configuration["screen"] == "allow":
        auth.allow(*configuration["addresses"])
    elif configuration["screen"] == "deny":
        auth.deny(*configuration["addresses"])
    for domain, passwords in configuration["plain"].items():
        auth.configure_plain(domain, passwords)
    for domain, names in configuration["curve"].items():
        auth.configure_curve(domain, str(dirs[names]))


class Oracle(zmq.auth.Authenticator):
    """pyzmq's authenticator, its reply captured instead of sent."""

    reply: list[bytes]

    def _send_zap_reply(
        self,
        request_id: bytes,
        status_code: bytes,
        status_text: bytes,
        user_id: str = "anonymous",
    ) -> None:
        user = (user_id if status_code == b"200" else "").encode()
        self.reply = [b"1.0", request_id, status_code, status_text, user, b""]


def pyzmq_reply(
    configuration: dict[str, Any], frames: list[bytes], dirs: dict[Any, Path]
) -> list[bytes]:
    zctx: zmq.Context[Any] = zmq.Context()
    try:
        oracle = Oracle(zctx)
        configure(oracle, configuration, dirs)
        asyncio.run(oracle.handle_zap_message(frames))
        return oracle.reply
    finally:
        zctx.term()


def our_reply(
    configuration: dict[str, Any], frames: list[bytes], dirs: dict[Any, Path]
) -> list[bytes]:
    async def ask() -> list[bytes]:
        async with trio_zmq.Context(linger=0) as ctx:
            auth = trio_zmq.auth.Authenticator(ctx)
            configure(auth, configuration, dirs)
            async with auth:
                requester = ctx.socket(zmq.DEALER)
                requester.connect(trio_zmq.auth.ZAP_ENDPOINT)
                await requester.send_multipart([b"", *frames])
                reply = await recv_frames(requester)
        assert reply[0] == b""
        return reply[1:]

    return anyio.run(ask, backend="trio")


@given(configuration=configurations, request=requests())
def test_replies_are_pyzmqs(
    key_dirs: tuple[dict[str, bytes], dict[Any, Path]],
    configuration: dict[str, Any],
    request: dict[str, Any],
) -> None:
    keys, dirs = key_dirs
    frames = request_frames(request, keys)
    ours = our_reply(configuration, frames, dirs)
    event(f"{ours[2].decode()} {ours[3].decode()}")
    assert ours == pyzmq_reply(configuration, frames, dirs)
