"""rtl_sweep: Routing the Lottery (adaptive lottery tickets) as a distributed sweep."""

__version__ = "0.1.0"

import os as _os

# Ray reads these when it is imported, so they are set before any module imports it. A local Ray
# then binds 127.0.0.1 only (with _node_ip_address, see distributed/ray_init.py), sends no usage
# stats, and Tune does not import TensorBoard's logger (which pulled torch into drivers at start-up;
# results go to Parquet instead).
_os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
_os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
_os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
