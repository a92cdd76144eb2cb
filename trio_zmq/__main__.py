"""``python -m trio_zmq``: the same as the ``trio-zmq`` command."""

import sys

from ._cli._main import main

sys.exit(main())
