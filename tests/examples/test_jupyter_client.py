"""examples/jupyter/client.py, driving a real ipykernel (and our kernel).

Each test starts the kernel as a real process on a fresh connection file
(``start_kernel``, which kills it on the way out) and drives it from the
test's trio run with the example's client.  Every wait has a bound.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import zmq

import trio_zmq
from examples.jupyter.client import IPYKERNEL_ARGV, KernelClient, Response, connect, start_kernel
from examples.jupyter.kernel import KERNEL_NAME, kernel_spec
from examples.jupyter.protocol import BadSignature, ConnectionInfo, Session

from tests.examples.jupyter_peers import require
from tests.helpers import ROOT

STARTUP_BOUND = 30  # seconds: ipykernel imports IPython; the machine may be busy
REPLY_BOUND = 10
OUR_KERNEL_ARGV = kernel_spec()["argv"]


@pytest.fixture(autouse=True)
def _jupyter_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the kernels' Jupyter and IPython files in the test's directory."""
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # our kernel: python -m examples...


@asynccontextmanager
async def kernel(
    directory: Path, argv: Sequence[str] = IPYKERNEL_ARGV
) -> AsyncIterator[tuple[trio.Process, KernelClient]]:
    """A kernel process, and the example's client once the kernel is ready."""
    if argv is IPYKERNEL_ARGV:
        require("ipykernel")
    async with (
        trio_zmq.Context(linger=0) as ctx,
        start_kernel(directory, argv) as (process, info),
        connect(ctx, info) as client,
    ):
        await client.wait_for_ready(timeout=STARTUP_BOUND)
        yield process, client


def assert_flow(response: Response, *middle: str) -> None:
    """busy, ``middle``, idle on iopub, every message the request's child."""
    types = [message.msg_type for message in response.iopub]
    assert types == ["status", *middle, "status"]
    states = [m.content["execution_state"] for m in response.iopub if m.msg_type == "status"]
    assert states == ["busy", "idle"]
    request_id = response.reply.parent_id
    assert all(message.parent_id == request_id for message in response.iopub)


async def test_kernel_info_from_ipykernel(tmp_path: Path) -> None:
    async with kernel(tmp_path) as (_, client):
        response = await client.request("kernel_info_request")
        assert response.reply.msg_type == "kernel_info_reply"
        assert response.content["implementation"] == "ipython"
        assert response.content["protocol_version"].startswith("5.")
        assert response.content["language_info"]["name"] == "python"
        assert_flow(response)
        assert await client.heartbeat(timeout=REPLY_BOUND)


async def test_execute_on_ipykernel(tmp_path: Path) -> None:
    async with kernel(tmp_path) as (_, client):
        printed = await client.execute("print('hello')")
        assert printed.content["status"] == "ok"
        assert printed.stdout == "hello\n"
        assert printed.result is None
        assert_flow(printed, "execute_input", "stream")

        value = await client.execute("6 * 7")
        assert value.result == "42"
        assert value.content["execution_count"] == printed.content["execution_count"] + 1
        assert_flow(value, "execute_input", "execute_result")

        failed = await client.execute("1 / 0")
        assert failed.content["status"] == "error"
        assert failed.content["ename"] == "ZeroDivisionError"
        assert [e["ename"] for e in failed.published("error")] == ["ZeroDivisionError"]
        assert_flow(failed, "execute_input", "error")


async def test_each_request_gets_only_its_own_output(tmp_path: Path) -> None:
    """A second client's output reaches the first one's iopub socket too
    (iopub is a broadcast): the client keeps only its request's children."""
    async with (
        kernel(tmp_path) as (_, first),
        trio_zmq.Context(linger=0) as ctx,
        connect(ctx, first.info) as second,
    ):
        await second.wait_for_ready(timeout=STARTUP_BOUND)
        other = await second.execute("print('from the second client')")
        assert other.stdout == "from the second client\n"
        mine = await first.execute("print('from the first client')")
        assert mine.stdout == "from the first client\n"
        assert_flow(mine, "execute_input", "stream")


async def test_shutdown_ends_ipykernel(tmp_path: Path) -> None:
    async with kernel(tmp_path) as (process, client):
        reply = await client.shutdown()
        assert reply.msg_type == "shutdown_reply"
        assert reply.content["status"] == "ok"
        assert reply.content["restart"] is False
        with trio.fail_after(STARTUP_BOUND):
            assert await process.wait() == 0


async def test_our_client_drives_our_kernel(tmp_path: Path) -> None:
    """The two examples together: the same flows, then a clean shutdown."""
    async with kernel(tmp_path, OUR_KERNEL_ARGV) as (process, client):
        info = await client.request("kernel_info_request", channel="control")
        assert info.content["implementation"] == KERNEL_NAME
        value = await client.execute("print('hi'); 6 * 7")
        assert (value.stdout, value.result) == ("hi\n", "42")
        assert_flow(value, "execute_input", "stream", "execute_result")
        assert await client.heartbeat(timeout=REPLY_BOUND)
        reply = await client.shutdown(restart=True)
        assert reply.content == {"status": "ok", "restart": True}
        with trio.fail_after(STARTUP_BOUND):
            assert await process.wait() == 0


async def test_client_refuses_a_forged_reply(tmp_path: Path) -> None:
    """A "kernel" (a ROUTER in the test) answers with another key's
    signature: the client raises BadSignature instead of believing it."""
    info = ConnectionInfo.with_free_ports()
    forger = Session(b"not the key")
    async with trio_zmq.Context(linger=0) as ctx, connect(ctx, info) as client:
        with ctx.socket(zmq.ROUTER) as shell:
            shell.bind(info.address("shell"))

            async def forge_reply() -> None:
                request = info.session("kernel").deserialize(await shell.recv_multipart())
                reply = forger.message("kernel_info_reply", {"status": "ok"}, parent=request)
                await shell.send_multipart(forger.serialize(reply, request.identities))

            with trio.fail_after(REPLY_BOUND):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(forge_reply)
                    with pytest.raises(BadSignature, match="bad HMAC signature"):
                        await client.request("kernel_info_request")


def test_script_drives_ipykernel() -> None:
    """``python -m examples.jupyter.client``: starts an ipykernel, runs the
    default cells, shuts it down."""
    require("ipykernel")
    done = subprocess.run(
        [sys.executable, "-m", "examples.jupyter.client"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=2 * STARTUP_BOUND,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("kernel: ipython ")
    assert lines[1:] == [
        "In [1]: print('hello from ipykernel')",
        "hello from ipykernel",
        "In [2]: 6 * 7",
        "Out[2]: 42",
        "In [3]: 1 / 0",
        "ZeroDivisionError: division by zero",
        "shutdown: ok; the kernel exited with 0",
    ]
