"""``python -m kernelkit.cli``: the same as the ``kernelkit`` command."""

import sys

from . import main

sys.exit(main())
