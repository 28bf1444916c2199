"""The loopback address every local service binds, and the one "does anything listen there?" probe.

    python -c "from rtl_sweep.net import LOOPBACK, unreachable; print(unreachable(LOOPBACK, 1))"

A wrong cluster address must fail in seconds with one line: Ray's and the job SDK's own connects
retry for a long time, so the Ray executor (distributed/ray_init.py) and `rtl-sweep submit` / `jobs`
(cluster/jobs.py) first open and close one TCP connection here.
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"  # local Ray, loopback clusters and the tests never listen on another interface
PROBE_TIMEOUT_S = 3.0   # a refused or silent port fails in seconds, before any SDK's retries


def unreachable(host: str | None, port: int, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why nothing answers at host:port ('Connection refused', 'timed out', ...), or None if something listens."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as e:
        return e.strerror or str(e) or type(e).__name__
