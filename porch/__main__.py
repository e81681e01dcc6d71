"""``python -m porch``: the same as the ``porch`` command."""

import sys

from .cli import main

sys.exit(main())
