"""``python -m bot.quality.netsim``: see :mod:`bot.quality.netsim.run`."""

import sys

from bot.quality.netsim.run import main

sys.exit(main())
