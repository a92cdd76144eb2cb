"""``python -m benchmarks``: the command line of :mod:`benchmarks.cli`.

Importing it (trio, pyzmq, trio_zmq and every benchmark) takes a moment: a
Ctrl-C then is one line and exit status 130 too, like one during a run.
"""

import sys


def _main() -> int:
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("python -m benchmarks: interrupted", file=sys.stderr)
        return 130  # trio_zmq._cli._command.INTERRUPTED, without importing it
    return main()


if __name__ == "__main__":
    sys.exit(_main())
