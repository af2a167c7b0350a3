"""`python -m server`: run the game server."""

import os
import sys

# One BLAS thread, set before numpy loads: the stream memory splits big retrievals across cores
# itself (agent/memory/stream.py), and OpenBLAS's own threads busy-wait between calls, taking a
# core from the event loop. Export OPENBLAS_NUM_THREADS to override.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from server.app import main  # noqa: E402

sys.exit(main())
