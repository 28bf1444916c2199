"""`ray start` for one node of a cluster that lives on 127.0.0.1 only (tests, cluster/local-cluster.sh).

    python -m rtl_sweep.cluster.loopback_node --address 127.0.0.1:6380 --node-ip-address 127.0.0.1 --block

Ray 2.58's `ray start` cannot add a worker node on the loopback as is: with
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 it refuses worker nodes, and without it it rewrites 127.0.0.1
(in --address and --node-ip-address) to the machine's network address, so the node would listen on
and talk to eth0. This runs Ray's own `ray start` with worker nodes allowed and every "this node's
address" answer pinned to 127.0.0.1; its children (raylet, agents, workers) inherit
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 and so also default to the loopback. It refuses any other address.
"""

from __future__ import annotations

import os
import sys

from rtl_sweep.net import LOOPBACK


def _value(argv: list[str], flag: str) -> str | None:
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    address, node_ip = _value(argv, "--address"), _value(argv, "--node-ip-address")
    if "--head" not in argv and (address or "").rsplit(":", 1)[0] != LOOPBACK:
        print(f"loopback_node: --address must be {LOOPBACK}:PORT, got {address!r}", file=sys.stderr)
        return 2
    if node_ip != LOOPBACK:
        print(f"loopback_node: --node-ip-address must be {LOOPBACK}, got {node_ip!r}", file=sys.stderr)
        return 2
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before importing ray: read at import
    import ray._private.ray_constants as ray_constants
    import ray._private.services as services
    from ray.scripts.scripts import start

    ray_constants.ENABLE_RAY_CLUSTER = True  # let `ray start` add worker nodes ...
    services.get_node_ip_address = lambda address=None: LOOPBACK  # ... that keep to the loopback
    try:
        start.main(args=argv, prog_name="ray start")
    except SystemExit as e:
        return int(e.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
