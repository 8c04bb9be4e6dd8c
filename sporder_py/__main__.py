"""``python -m sporder_py``: the same entry point as the ``sporder`` script."""

import sys

from .cli import main

sys.exit(main())
