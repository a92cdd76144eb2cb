"""examples/jupyter/protocol.py: signing, framing and connection files.

The properties (hypothesis) cover the round trip and tampering; the rest
checks the clear errors, and that jupyter_client's own ``Session`` (the
independent implementation) reads what ours writes and the other way round.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examples.jupyter.protocol import (
    DELIMITER,
    PROTOCOL_VERSION,
    BadSignature,
    ConnectionInfo,
    MalformedMessage,
    ProtocolError,
    Session,
    pack,
)

from tests.examples.jupyter_peers import jupyter_client_session, require_jupyter_client

KEY = b"a-secret-key"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
json_dicts = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
identities = st.lists(
    st.binary(min_size=1, max_size=8).filter(lambda b: b != DELIMITER), max_size=3
)


def signed_frames(session: Session, parts: list[bytes]) -> list[bytes]:
    """A message of four raw ``parts``, signed as they are."""
    return [DELIMITER, session.sign(parts), *parts]


@given(content=json_dicts, metadata=json_dicts, idents=identities, buffers=st.lists(st.binary()))
def test_round_trip(
    content: dict[str, Any], metadata: dict[str, Any], idents: list[bytes], buffers: list[bytes]
) -> None:
    session = Session(KEY)
    parent = session.message("execute_request", {"code": "1"})
    message = session.message("execute_reply", content, parent=parent, metadata=metadata)
    message = dataclasses.replace(message, buffers=tuple(buffers))
    received = Session(KEY).deserialize(session.serialize(message, idents))
    assert received == dataclasses.replace(message, identities=tuple(idents))
    assert received.parent_id == parent.msg_id
    assert received.header["version"] == PROTOCOL_VERSION
    assert isinstance(received.header["date"], datetime)


@given(content=json_dicts, data=st.data())
def test_tampering_with_any_signed_frame_is_detected(
    content: dict[str, Any], data: st.DataObject
) -> None:
    session = Session(KEY)
    frames = session.serialize(session.message("execute_request", content), [b"client"])
    index = data.draw(st.integers(2, 6), label="frame")  # signature, header, ..., content
    frame = bytearray(frames[index])
    position = data.draw(st.integers(0, len(frame) - 1), label="byte")
    frame[position] ^= data.draw(st.integers(1, 255), label="xor")
    frames[index] = bytes(frame)
    with pytest.raises(BadSignature, match="bad HMAC signature"):
        session.deserialize(frames)


def test_another_key_is_refused() -> None:
    frames = Session(b"the wrong key").serialize(Session(KEY).message("kernel_info_request"))
    with pytest.raises(BadSignature):
        Session(KEY).deserialize(frames)


def test_an_empty_key_neither_signs_nor_checks() -> None:
    session = Session(b"")
    frames = session.serialize(session.message("kernel_info_request"))
    assert frames[1] == b""
    assert session.deserialize(frames).msg_type == "kernel_info_request"


@pytest.mark.parametrize(
    ("frames", "error"),
    [
        ([b"id", b"<IDS|MSG", b"sig", b"{}", b"{}", b"{}", b"{}"], "no b'<IDS|MSG>' delimiter"),
        ([b"id", DELIMITER, b"sig", b"{}", b"{}"], "3 frames after the delimiter"),
    ],
)
def test_frames_that_are_no_message(frames: list[bytes], error: str) -> None:
    with pytest.raises(MalformedMessage, match=error):
        Session(KEY).deserialize(frames)


@pytest.mark.parametrize(
    ("parts", "error"),
    [
        ([b"not json", b"{}", b"{}", b"{}"], "the header frame is not JSON"),
        ([b'{"msg_id": "1", "msg_type": "x"}', b"[]", b"{}", b"{}"], "parent header .* object"),
        ([b'{"msg_id": "1"}', b"{}", b"{}", b"{}"], "no msg_type"),
        ([b'{"msg_id": "1", "msg_type": "x", "date": "noon"}', b"{}", b"{}", b"{}"], "ISO 8601"),
    ],
)
def test_signed_garbage_is_malformed(parts: list[bytes], error: str) -> None:
    session = Session(KEY)
    with pytest.raises(MalformedMessage, match=error):
        session.deserialize(signed_frames(session, parts))


def test_unsupported_signature_scheme() -> None:
    with pytest.raises(ProtocolError, match="unsupported signature scheme 'rot13'"):
        Session(KEY, signature_scheme="rot13")


def test_connection_file_round_trip(tmp_path: Path) -> None:
    info = ConnectionInfo.with_free_ports(kernel_name="k")
    info.write(tmp_path / "kernel.json")
    assert (tmp_path / "kernel.json").stat().st_mode & 0o777 == 0o600
    assert ConnectionInfo.read(tmp_path / "kernel.json") == info
    assert len(set(info.ports.values())) == 5
    assert info.address("shell") == f"tcp://127.0.0.1:{info.ports['shell']}"


def test_ipc_addresses() -> None:
    info = ConnectionInfo(
        ip="/tmp/k",
        key=KEY,
        ports=dict.fromkeys(("shell", "iopub", "stdin", "control", "hb"), 1),
        transport="ipc",
    )
    assert info.address("iopub") == "ipc:///tmp/k-1"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"key": None}, "has no 'key'"),
        ({"hb_port": None}, "has no 'hb_port'"),
        ({"shell_port": "many"}, "invalid literal"),
        ({"transport": "udp"}, "unsupported transport 'udp'"),
        ({"signature_scheme": "hmac-nothing"}, "unsupported signature scheme"),
    ],
)
def test_bad_connection_files(tmp_path: Path, change: dict[str, Any], error: str) -> None:
    data: dict[str, Any] = {f"{c}_port": 1 for c in ("shell", "iopub", "stdin", "control", "hb")}
    data.update(ip="127.0.0.1", key="k", transport="tcp", signature_scheme="hmac-sha256")
    data.update(change)
    data = {name: value for name, value in data.items() if value is not None}
    (tmp_path / "kernel.json").write_text(json.dumps(data))
    with pytest.raises(ProtocolError, match=error):
        ConnectionInfo.read(tmp_path / "kernel.json")


# Against jupyter_client's Session, the independent implementation.


def test_jupyter_client_reads_our_messages() -> None:
    require_jupyter_client()
    ours = Session(KEY)
    parent = ours.message("execute_request", {"code": "x"})
    message = ours.message("execute_reply", {"status": "ok", "n": [1, "é"]}, parent=parent)
    theirs = jupyter_client_session(KEY)
    identities, frames = theirs.feed_identities(ours.serialize(message, [b"route"]))
    received = theirs.deserialize(frames)
    assert identities == [b"route"]
    assert received["content"] == {"status": "ok", "n": [1, "é"]}
    assert received["parent_header"]["msg_id"] == parent.msg_id
    assert received["header"]["date"] == message.header["date"]


def test_we_read_jupyter_client_messages() -> None:
    require_jupyter_client()
    theirs = jupyter_client_session(KEY)
    message = theirs.msg("kernel_info_request", content={"a": 1})
    received = Session(KEY).deserialize(theirs.serialize(message, ident=[b"route"]))
    assert received.identities == (b"route",)
    assert received.msg_id == message["header"]["msg_id"]
    assert received.header["date"] == message["header"]["date"]
    assert received.content == {"a": 1}
    # jupyter_client signs with the same HMAC: another key is refused.
    with pytest.raises(BadSignature):
        Session(b"other").deserialize(theirs.serialize(message))


def test_pack_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(TypeError, match="bytes is not JSON serializable"):
        pack({"raw": b"bytes"})
