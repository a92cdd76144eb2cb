"""examples/jupyter/kernel.py, run by jupyter_client: the real front-end side.

jupyter_client's ``KernelManager`` starts our kernel from a kernelspec
written into the test's directory (``python -m examples.jupyter.kernel -f
{connection_file}``, a real process) and its ``BlockingKernelClient``
drives it, with jupyter_client's own Session signing and checking every
message.  The tests are synchronous, as jupyter_client's blocking API is;
every wait has a bound, and the kernel is killed on the way out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zmq

from examples.jupyter.kernel import KERNEL_NAME, ROOT, install_kernel_spec

from tests.examples.jupyter_peers import jupyter_client_session, require_jupyter_client

try:
    from jupyter_client.blocking.client import BlockingKernelClient
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner
except ImportError:  # the kernel fixture reports it (tests/peers.py)
    pass

STARTUP_BOUND = 30  # seconds: a Python process importing trio and pyzmq on a busy machine
REPLY_BOUND = 10  # seconds for any one reply or iopub message
Msg = dict[str, Any]


@dataclass
class Running:
    """A kernel started by a KernelManager, and a client connected to it."""

    km: KernelManager
    kc: BlockingKernelClient
    process: subprocess.Popen[bytes]
    log: Path

    def endpoint(self, channel: str) -> str:
        port = getattr(self.km, f"{channel}_port")
        return f"{self.km.transport}://{self.km.ip}:{port}"

    def wait_for_log(self, text: str, count: int = 1) -> None:
        """Until the kernel's log holds ``text`` ``count`` times."""
        deadline = time.monotonic() + REPLY_BOUND
        while self.log.read_text().count(text) < count:
            assert time.monotonic() < deadline, f"{text!r} not logged: {self.log.read_text()}"
            time.sleep(0.02)

    def published(self, msg_id: str) -> list[Msg]:
        """The iopub messages whose parent is ``msg_id``, up to its ``idle``."""
        messages = []
        while True:
            message = self.kc.get_iopub_msg(timeout=REPLY_BOUND)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append(message)
            if message["content"].get("execution_state") == "idle":
                return messages

    def execute(self, code: str) -> tuple[Msg, list[Msg]]:
        """The reply to ``code`` and what the kernel published for it."""
        msg_id = self.kc.execute(code)
        reply = self.kc.get_shell_msg(timeout=REPLY_BOUND)
        assert reply["parent_header"]["msg_id"] == msg_id
        return reply, self.published(msg_id)


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    """Our kernel, started by jupyter_client from a kernelspec in ``tmp_path``."""
    require_jupyter_client()
    # jupyter_core's future (and quiet) choice of directories; the kernel inherits it.
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    specs = KernelSpecManager(kernel_dirs=[str(install_kernel_spec(tmp_path).parent)])
    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
    km.connection_file = str(tmp_path / "connection.json")
    log = tmp_path / "kernel.log"
    with log.open("wb") as stderr:
        km.start_kernel(stderr=stderr)
    try:
        assert isinstance(km.provisioner, LocalProvisioner)
        assert km.provisioner.process is not None
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=STARTUP_BOUND)
            yield Running(km, kc, km.provisioner.process, log)
        finally:
            kc.stop_channels()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)


def test_kernel_info(kernel: Running) -> None:
    msg_id = kernel.kc.kernel_info()
    reply = kernel.kc.get_shell_msg(timeout=REPLY_BOUND)
    assert reply["msg_type"] == "kernel_info_reply"
    assert reply["parent_header"]["msg_id"] == msg_id
    content = reply["content"]
    assert content["status"] == "ok"
    assert content["protocol_version"] == "5.3"
    assert content["implementation"] == KERNEL_NAME
    assert content["language_info"]["name"] == "python"
    statuses = [m["content"]["execution_state"] for m in kernel.published(msg_id)]
    assert statuses == ["busy", "idle"]


def test_execute_publishes_busy_input_output_idle(kernel: Running) -> None:
    msg_id = kernel.kc.execute("print('hello'); 40 + 2")
    reply = kernel.kc.get_shell_msg(timeout=REPLY_BOUND)
    assert reply["msg_type"] == "execute_reply"
    assert reply["content"]["status"] == "ok"
    published = kernel.published(msg_id)
    assert [m["msg_type"] for m in published] == [
        "status",
        "execute_input",
        "stream",
        "execute_result",
        "status",
    ]
    busy, execute_input, stream, result, idle = (m["content"] for m in published)
    assert (busy["execution_state"], idle["execution_state"]) == ("busy", "idle")
    assert execute_input == {"code": "print('hello'); 40 + 2", "execution_count": 1}
    assert stream == {"name": "stdout", "text": "hello\n"}
    assert result["data"] == {"text/plain": "42"}
    assert result["execution_count"] == 1
    for message in [reply, *published]:
        assert message["parent_header"]["msg_id"] == msg_id
        assert message["parent_header"]["msg_type"] == "execute_request"
        assert message["parent_header"]["session"] == kernel.kc.session.session


def test_expression_result(kernel: Running) -> None:
    reply, published = kernel.execute("1+1")
    assert reply["content"]["status"] == "ok"
    results = [m["content"] for m in published if m["msg_type"] == "execute_result"]
    assert [r["data"]["text/plain"] for r in results] == ["2"]


def test_exception_gives_an_error_reply_and_an_iopub_error(kernel: Running) -> None:
    reply, published = kernel.execute("def f():\n    return 1 / 0\nf()")
    content = reply["content"]
    assert content["status"] == "error"
    assert (content["ename"], content["evalue"]) == ("ZeroDivisionError", "division by zero")
    errors = [m["content"] for m in published if m["msg_type"] == "error"]
    assert len(errors) == 1
    assert errors[0]["ename"] == "ZeroDivisionError"
    traceback = "".join(errors[0]["traceback"])
    assert "return 1 / 0" in traceback
    assert "kernel.py" not in traceback  # it starts in the cell
    assert [m["msg_type"] for m in published][-1] == "status"


def test_execution_count_increments(kernel: Running) -> None:
    counts = [
        kernel.execute(code)[0]["content"]["execution_count"] for code in ("a = 1", "1/0", "a")
    ]
    assert counts == [1, 2, 3]
    reply, published = kernel.execute("a + 1")
    assert reply["content"]["execution_count"] == 4
    results = [m["content"] for m in published if m["msg_type"] == "execute_result"]
    assert results[0]["execution_count"] == 4
    assert results[0]["data"]["text/plain"] == "2"


def test_is_complete(kernel: Running) -> None:
    statuses = []
    for code in ("x = 1", "for i in range(3):", "1 +* 2"):
        kernel.kc.is_complete(code)
        statuses.append(kernel.kc.get_shell_msg(timeout=REPLY_BOUND)["content"]["status"])
    assert statuses == ["complete", "incomplete", "invalid"]


def ping(endpoint: str) -> bytes | None:
    """One heartbeat on a fresh REQ socket: the echo, or None after REPLY_BOUND."""
    with zmq.Context() as ctx, ctx.socket(zmq.REQ) as sock:
        sock.linger = 0
        sock.connect(endpoint)
        sock.send(b"ping")
        return sock.recv() if sock.poll(REPLY_BOUND * 1000) else None


def test_heartbeat_and_control_answer_while_code_runs(kernel: Running, tmp_path: Path) -> None:
    """A cell that runs until the test lets it finish: meanwhile the
    heartbeat echoes and the control channel answers."""
    go = tmp_path / "go"
    code = f"import os, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.01)\n'done'"
    msg_id = kernel.kc.execute(code)
    while kernel.kc.get_iopub_msg(timeout=REPLY_BOUND)["msg_type"] != "execute_input":
        pass  # the kernel's busy status first; once execute_input is out, the cell runs
    assert ping(kernel.endpoint("hb")) == b"ping"
    request = kernel.kc.session.msg("kernel_info_request")
    kernel.kc.control_channel.send(request)
    info = kernel.kc.get_control_msg(timeout=REPLY_BOUND)
    assert info["parent_header"]["msg_id"] == request["header"]["msg_id"]
    assert info["content"]["implementation"] == KERNEL_NAME
    assert not kernel.kc.shell_channel.msg_ready()  # the cell still runs
    go.touch()
    reply = kernel.kc.get_shell_msg(timeout=REPLY_BOUND)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "ok"


def test_bad_messages_are_logged_and_ignored(kernel: Running) -> None:
    """Forged (another key), tampered, delimiter-less and unknown messages
    are dropped with a log line, answer nothing and run nothing; the
    kernel answers the next valid request."""
    with zmq.Context() as ctx, ctx.socket(zmq.DEALER) as raw:
        raw.linger = 0
        raw.connect(kernel.endpoint("shell"))
        forger = jupyter_client_session(b"not the key")
        forged = forger.msg("execute_request", {"code": "forged = True", "silent": False})
        raw.send_multipart(forger.serialize(forged))
        kernel.wait_for_log("bad HMAC signature")

        signer = jupyter_client_session(kernel.km.session.key)
        tampered = signer.msg("execute_request", {"code": "x = 1", "silent": False})
        frames = signer.serialize(tampered)
        frames[-1] = b'{"code": "tampered = True", "silent": false}'  # the content frame
        raw.send_multipart(frames)
        kernel.wait_for_log("bad HMAC signature", count=2)

        raw.send_multipart([b"garbage", b"more garbage"])
        kernel.wait_for_log("no b'<IDS|MSG>' delimiter")

        kernel.kc.shell_channel.send(kernel.kc.session.msg("frobnicate_request"))
        kernel.wait_for_log("unknown type 'frobnicate_request'")

        reply, published = kernel.execute("[name in dir() for name in ('forged', 'tampered')]")
        assert reply["content"]["execution_count"] == 1  # nothing ran before
        results = [m["content"]["data"] for m in published if m["msg_type"] == "execute_result"]
        assert results == [{"text/plain": "[False, False]"}]
        assert raw.poll(0) == 0  # and nothing was answered
    assert kernel.process.poll() is None


def test_shutdown_kernel_ends_the_process_by_request(kernel: Running) -> None:
    """``shutdown_kernel(now=False)`` sends shutdown_request on control; the
    kernel answers and exits by itself with 0 (a SIGTERM from the manager,
    sent only after half of ``shutdown_wait_time``, would give 143; its
    SIGKILL -9)."""
    kernel.km.shutdown_wait_time = 2 * STARTUP_BOUND
    started = time.monotonic()
    kernel.km.shutdown_kernel(now=False)
    assert kernel.process.returncode == 0
    assert time.monotonic() - started < STARTUP_BOUND
    assert "shut down by request" in kernel.log.read_text()
    assert "Traceback" not in kernel.log.read_text()


def test_shutdown_request_echoes_restart(kernel: Running) -> None:
    msg_id = kernel.kc.shutdown(restart=True)
    reply = kernel.kc.get_control_msg(timeout=REPLY_BOUND)
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"] == {"status": "ok", "restart": True}
    assert kernel.process.wait(timeout=REPLY_BOUND) == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_kernel(kernel: Running, signum: signal.Signals) -> None:
    kernel.process.send_signal(signum)
    assert kernel.process.wait(timeout=REPLY_BOUND) == 128 + signum
    assert "Traceback" not in kernel.log.read_text()


def test_jupyter_run_runs_a_script_on_our_kernel(tmp_path: Path) -> None:
    """By hand, as docs/jupyter.md says: the kernelspec installed with
    ``--install``, then ``jupyter run --kernel trio_zmq_example script.py``
    (jupyter_client's own application) prints what the script prints and
    shuts the kernel down by request."""
    require_jupyter_client()
    subprocess.run(
        [sys.executable, "-m", "examples.jupyter.kernel", "--install", str(tmp_path)],
        cwd=ROOT,
        check=True,
        timeout=STARTUP_BOUND,
    )
    script = tmp_path / "script.py"
    script.write_text("print('hello from trio')\nx = 6 * 7\nprint(x)\n")
    environment = {
        **os.environ,
        "JUPYTER_PATH": str(tmp_path),
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_client.runapp", "--kernel", KERNEL_NAME, str(script)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=2 * STARTUP_BOUND,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello from trio\n42\n"
    assert "shut down by request" in done.stderr
