"""``python -m neuroevo``: the same as the ``neuroevo`` command."""

import sys

from neuroevo.cli import main

sys.exit(main())
