"""Tensors to bytes and back: every checkpoint in a run folder goes through these two functions.

    python -c "from rtl_sweep.serialize import *; import torch; print(tensor_load(tensor_bytes({'a': torch.ones(2)})))"

Loading uses `weights_only=True`: a run folder copied from elsewhere can hold tensors, dicts and
lists, never code.
"""

from __future__ import annotations

import io

import torch


def tensor_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def tensor_load(blob: bytes):
    return torch.load(io.BytesIO(blob), weights_only=True)
