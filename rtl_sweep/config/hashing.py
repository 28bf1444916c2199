"""The run hash: a stable 12-hex name of what a run computes, the run folder's name.

    python -c "from rtl_sweep.config import RunConfig; print(RunConfig().hash())"

The hash leaves default-valued fields out, so adding a field with a default keeps old hashes
(the OpenLTH `desc` idea): a run folder stays findable across versions. tests/test_config_hashes.py
pins the hash of every shipped config.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rtl_sweep.config.sections import PARTITION_ALIASES
from rtl_sweep.config.tree import non_default

HASHED_AS = {v: k for k, v in PARTITION_ALIASES.items()}
UNHASHED = ("name", "routes")  # a label, and what is scored: a rerun with more routes reuses the folder


def run_hash(cfg: Any) -> str:
    """The hash of run config `cfg`: its non-default fields but UNHASHED, as sorted compact JSON."""
    diff = non_default(cfg, type(cfg)())
    for key in UNHASHED:
        diff.pop(key, None)
    part = diff.get("partition", {})
    if part.get("method") in HASHED_AS:  # hashes predate the rename: old run folders stay found
        part["method"] = HASHED_AS[part["method"]]
    blob = json.dumps(diff, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
