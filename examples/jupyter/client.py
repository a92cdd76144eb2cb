"""A trio client that drives a Jupyter kernel, such as a real ipykernel.

:func:`connect` opens the client's side of a connection file: a DEALER on
shell and one on control, a SUB on iopub (everything), and a fresh REQ for
each heartbeat.  :meth:`KernelClient.request` sends one request, waits for
its reply on shell or control, then collects what the kernel published on
iopub for that request (the messages whose parent is the request) up to
its ``idle`` status; the SUB socket queues them meanwhile.  One task does
it all, so an error is raised as itself at the ``await``.  Every message
received is checked with the key; one with a bad signature raises
:class:`~examples.jupyter.protocol.BadSignature`.

A SUB socket misses what is published before its subscription reaches the
kernel, so :meth:`KernelClient.wait_for_ready` repeats ``kernel_info``
until a request's reply *and* its iopub messages arrive, as
jupyter_client does.

:func:`start_kernel` starts a kernel process on a fresh connection file
(by default ``python -m ipykernel_launcher -f {connection_file}``) and
kills it on the way out if it is still running.

Run it: ``python -m examples.jupyter.client`` starts an ipykernel, runs a
few cells (or the ones given as arguments) and shuts the kernel down;
``--existing FILE`` drives a kernel that is already running instead.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio
import zmq

import trio_zmq

from .protocol import ConnectionInfo, JSONDict, Message, Session

#: How ``start_kernel`` starts an ipykernel; ``{connection_file}`` is filled in.
IPYKERNEL_ARGV = (sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}")
#: Seconds a request may take by default (a cell that runs longer needs more).
REQUEST_TIMEOUT = 30.0
#: Seconds ``wait_for_ready`` waits for one kernel_info round before asking again.
READY_ATTEMPT = 1.0
DEFAULT_CELLS = ("print('hello from ipykernel')", "6 * 7", "1 / 0")


@dataclass
class Response:
    """A request's reply and what the kernel published for it on iopub."""

    reply: Message
    #: The iopub messages whose parent is the request, ``busy`` to ``idle``.
    iopub: list[Message]

    @property
    def content(self) -> JSONDict:
        return self.reply.content

    def published(self, msg_type: str) -> list[JSONDict]:
        """The contents of the iopub messages of ``msg_type``, in order."""
        return [message.content for message in self.iopub if message.msg_type == msg_type]

    @property
    def stdout(self) -> str:
        return "".join(s["text"] for s in self.published("stream") if s["name"] == "stdout")

    @property
    def result(self) -> str | None:
        """The ``text/plain`` of the execute result, if the cell had one."""
        results = self.published("execute_result")
        return str(results[-1]["data"]["text/plain"]) if results else None


class KernelClient:
    """The client's sockets and session; made by :func:`connect`."""

    def __init__(self, ctx: trio_zmq.Context, info: ConnectionInfo, session: Session) -> None:
        self.ctx = ctx
        self.info = info
        self.session = session
        self.shell = ctx.socket(zmq.DEALER)
        self.control = ctx.socket(zmq.DEALER)
        self.iopub = ctx.socket(zmq.SUB)
        for channel in ("shell", "control", "iopub"):
            sock = getattr(self, channel)
            sock.linger = 0
            sock.connect(info.address(channel))
        self.iopub.subscribe(b"")

    def close(self) -> None:
        for sock in (self.shell, self.control, self.iopub):
            sock.close()

    async def _reply(self, sock: trio_zmq.Socket, request: Message) -> Message:
        """The reply to ``request`` on ``sock``; replies to earlier requests are skipped."""
        while True:
            message = self.session.deserialize(await sock.recv_multipart())
            if message.parent_id == request.msg_id:
                return message

    async def _published(self, request: Message) -> list[Message]:
        """The iopub messages for ``request``, up to its ``idle`` status."""
        messages = []
        while True:
            message = self.session.deserialize(await self.iopub.recv_multipart())
            if message.parent_id != request.msg_id:
                continue  # another request's, or none (a welcome, "starting")
            messages.append(message)
            if message.msg_type == "status" and message.content["execution_state"] == "idle":
                return messages

    async def request(
        self,
        msg_type: str,
        content: JSONDict | None = None,
        *,
        channel: str = "shell",
        timeout: float = REQUEST_TIMEOUT,
    ) -> Response:
        """Send a request; return its reply and its iopub messages.

        Raises ``trio.TooSlowError`` if they have not all come in ``timeout``
        seconds.
        """
        sock = self.control if channel == "control" else self.shell
        request = self.session.message(msg_type, content)
        with trio.fail_after(timeout):
            await sock.send_multipart(self.session.serialize(request))
            reply = await self._reply(sock, request)
            iopub = await self._published(request)
        return Response(reply, iopub)

    async def wait_for_ready(self, timeout: float) -> Response:
        """The kernel's ``kernel_info``, once shell and iopub both work."""
        with trio.fail_after(timeout):
            while True:
                with trio.move_on_after(READY_ATTEMPT):
                    return await self.request("kernel_info_request")

    async def execute(self, code: str, *, timeout: float = REQUEST_TIMEOUT) -> Response:
        """Run ``code`` in the kernel."""
        content = {"code": code, "silent": False, "store_history": True, "allow_stdin": False}
        return await self.request("execute_request", content, timeout=timeout)

    async def shutdown(self, *, restart: bool = False, timeout: float = REQUEST_TIMEOUT) -> Message:
        """Ask the kernel to shut down (on control); its reply."""
        response = await self.request(
            "shutdown_request", {"restart": restart}, channel="control", timeout=timeout
        )
        return response.reply

    async def heartbeat(self, timeout: float = 1.0) -> bool:
        """Whether the kernel echoes a ping within ``timeout`` seconds."""
        with self.ctx.socket(zmq.REQ) as sock:
            sock.linger = 0
            sock.connect(self.info.address("hb"))
            await sock.send(b"ping")
            with trio.move_on_after(timeout):
                return await sock.recv() == b"ping"
        return False


@asynccontextmanager
async def connect(ctx: trio_zmq.Context, info: ConnectionInfo) -> AsyncIterator[KernelClient]:
    """A :class:`KernelClient` for the kernel of ``info``, closed on the way out."""
    client = KernelClient(ctx, info, info.session(username="trio_zmq_client"))
    try:
        yield client
    finally:
        client.close()


@asynccontextmanager
async def start_kernel(
    directory: Path, argv: Sequence[str] = IPYKERNEL_ARGV
) -> AsyncIterator[tuple[trio.Process, ConnectionInfo]]:
    """Start a kernel on a fresh connection file in ``directory``.

    Yields the process and its connection; kills the process on the way
    out if it has not ended by then.
    """
    info = ConnectionInfo.with_free_ports()
    path = directory / "kernel-connection.json"
    info.write(path)
    command = [part.replace("{connection_file}", str(path)) for part in argv]
    # The kernel's own stdout (ipykernel's banner) is not ours to print:
    # what the code prints comes over iopub.  Its stderr stays, for errors.
    # JPY_PARENT_PID, as jupyter_client sets it: ipykernel exits when this
    # process dies, should it die before it could kill the kernel.
    process = await trio.lowlevel.open_process(
        command,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "JPY_PARENT_PID": str(os.getpid())},
    )
    try:
        yield process, info
    finally:
        with trio.CancelScope(shield=True), trio.fail_after(10):
            if process.returncode is None:
                process.kill()
            await process.wait()


def show(number: int, code: str, response: Response) -> None:
    """Print a cell and what it did, as a console would."""
    print(f"In [{number}]: {code}")
    print(response.stdout, end="")
    if response.result is not None:
        print(f"Out[{number}]: {response.result}")
    if response.content["status"] == "error":
        print(f"{response.content['ename']}: {response.content['evalue']}")


async def drive(client: KernelClient, cells: Sequence[str]) -> None:
    """Show the kernel's info, then run ``cells`` one after the other."""
    info = (await client.wait_for_ready(timeout=60)).content
    print(f"kernel: {info['implementation']} {info['implementation_version']}", end="")
    print(f", protocol {info['protocol_version']}")
    for number, code in enumerate(cells, 1):
        show(number, code, await client.execute(code))


async def main(args: argparse.Namespace) -> int:
    """Drive an existing kernel, or start an ipykernel, drive it and shut it down."""
    async with trio_zmq.Context(linger=0) as ctx:
        if args.existing is not None:
            async with connect(ctx, ConnectionInfo.read(args.existing)) as client:
                await drive(client, args.cells)
            return 0
        with tempfile.TemporaryDirectory() as directory:
            async with start_kernel(Path(directory)) as (process, info):
                async with connect(ctx, info) as client:
                    await drive(client, args.cells)
                    reply = await client.shutdown()
                with trio.fail_after(30):
                    status = await process.wait()
                print(f"shutdown: {reply.content['status']}; the kernel exited with {status}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m examples.jupyter.client``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cells", nargs="*", default=list(DEFAULT_CELLS), help="code to run")
    parser.add_argument(
        "--existing", type=Path, metavar="FILE", help="the connection file of a running kernel"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(trio.run(main, parse_args()))
