"""`python -m server`: run the game server."""

import sys

from server.app import main

sys.exit(main())
