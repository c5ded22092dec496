"""`python -m trustwatch.analytics.cli`: the `trustwatch` command."""

import sys

from . import main

sys.exit(main())
