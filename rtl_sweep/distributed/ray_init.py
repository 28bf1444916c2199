"""Start or join Ray safely: a local Ray binds 127.0.0.1 only; a cluster address is joined as is.

    python -c "from rtl_sweep.distributed.ray_init import init_ray; init_ray(num_cpus=2); import ray; print(ray.cluster_resources())"

A plain `ray.init()` listens on every interface and talks to the machine's own address. With
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (set by `rtl_sweep/__init__.py`, so before any Ray import) and
`_node_ip_address="127.0.0.1"` every service of a local Ray stays on the loopback (check with
`ss -ltn`).
"""

from __future__ import annotations

from urllib.parse import urlparse

from rtl_sweep.errors import ClusterError
from rtl_sweep.net import LOOPBACK, PROBE_TIMEOUT_S, unreachable


def check_reachable(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Fail within seconds, not a hang, when nothing listens at a Ray address (host:port)."""
    if address in ("auto", "local") or address.startswith("ray://") is False and "://" in address:
        return
    hostport = address[len("ray://"):] if address.startswith("ray://") else address
    parsed = urlparse("//" + hostport)
    host, port = parsed.hostname, parsed.port or (10001 if address.startswith("ray://") else 6379)
    why = unreachable(host, port, timeout)
    if why:
        raise ClusterError(f"no Ray reachable at {address} ({why})",
                           "start the cluster (ray start --head) or fix --address host:port")


def init_ray(address: str | None = None, num_cpus: float | None = None, num_gpus: float | None = None,
             resources: dict | None = None, **kw) -> None:
    """Join `address` (a running cluster: no resource arguments) or start a loopback-only Ray."""
    import ray
    if address:
        check_reachable(address)  # even when this process already joined a Ray: a fast, clear no
    if ray.is_initialized():
        return
    if address:
        try:
            ray.init(address=address, logging_level="warning", log_to_driver=False, **kw)
        except (ConnectionError, RuntimeError, TimeoutError) as e:
            raise ClusterError(f"could not join Ray at {address}: {e}", "check the address and that "
                               "the cluster runs the same Ray version") from None
        return
    ray.init(num_cpus=num_cpus, num_gpus=num_gpus, resources=resources, include_dashboard=False,
             _node_ip_address=LOOPBACK, logging_level="warning", log_to_driver=False, **kw)
