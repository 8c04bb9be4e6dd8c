"""``python -m sporder_py``: the same as the ``sporder`` console script."""

import sys

from .cli.app import main

sys.exit(main())
