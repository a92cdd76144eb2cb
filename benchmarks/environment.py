"""What a run records about the machine and the versions it measured."""

from __future__ import annotations

import os
import platform
from typing import Any

import trio
import zmq

import trio_zmq


def environment() -> dict[str, Any]:
    """Python, the platform, the CPUs and the versions of what is measured."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "pyzmq": zmq.pyzmq_version(),
        "libzmq": zmq.zmq_version(),
        "trio": trio.__version__,
        "trio_zmq": trio_zmq.__version__,
    }


def describe(env: dict[str, Any]) -> str:
    """The line a report quotes ``env`` by."""
    return (
        f"python {env['python']}, pyzmq {env['pyzmq']}, libzmq {env['libzmq']}, "
        f"trio {env['trio']}, {env['cpus']} CPUs"
    )
