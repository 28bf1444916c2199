"""The defaults a task brings for the keys a config leaves unset.

    python -c "from rtl_sweep.config.task_defaults import TASK_DEFAULTS; print(TASK_DEFAULTS['inr'])"
"""

from __future__ import annotations

import copy
from typing import Any

# The defaults a task brings for the keys a config leaves unset (dotted key -> value). They are
# applied when the config is built, so config.yaml and the hash spell them out, and a task's
# default never changes what an existing run folder means. Classification uses the field defaults
# of config/sections.py. Why these values for INR: rtl_sweep/tasks/inr.py, module docstring.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "inr": {
        "data.name": "image",             # data.image (astronaut) at data.side (64): 4,096 pixels
        "partition.method": "regions",    # SLIC superpixels grouped by colour and position
        "partition.k": 4,
        "model.name": "siren",
        "model.width": 64,                # 3 x 64 x 64 = 12,288 prunable hidden weights
        "prune.lr": 3.0e-4,               # 1e-3 spikes on SIREN (measured); 3e-4 fits smoothly
        "joint.lr": 3.0e-4,
        "prune.batch_size": 512,          # pixels per step: an epoch of the image is 8 steps
        "prune.epochs": 60,
        "joint.epochs": 60,
        "prune.target_sparsity": 0.95,
    },
    # Why these values: rtl_sweep/tasks/speech.py and docs/speech.md.
    "speech": {
        "data.name": "speech",            # espeak-ng speech in simulated scenes, 80 clips per scene
        "data.test_fraction": 0.25,
        "partition.method": "scene",      # indoor, outdoor, transportation: K = 3
        "partition.k": 3,
        "model.name": "mask_net",
        "model.width": 16,                # 16*9 + 2*16*16*9 = 4,752 prunable conv weights
        "prune.batch_size": 16,
        "prune.epochs": 6,
        "joint.epochs": 6,
        "prune.target_sparsity": 0.9,
    },
}




def with_task_defaults(d: dict) -> dict:
    """A copy of nested config `d` with its task's defaults filled into the keys it leaves out."""
    out = copy.deepcopy(d)
    for key, value in TASK_DEFAULTS.get(out.get("task", "classification"), {}).items():
        section, leaf = key.split(".")
        node = out.get(section)
        if node is None:
            node = out[section] = {}
        if isinstance(node, dict) and leaf not in node:  # a non-mapping section fails in building
            node[leaf] = value
    return out
