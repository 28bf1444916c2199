"""The mask-per-subset family beside RTL: PackNet, WSN and SupSup, each one unit per level.

    rtl-sweep run --set "baselines=[imp_single,imp_single_equal,packnet,wsn,supsup]"

Each method trains its K subsets one after another over one shared weight tensor from the run's
shared start, at the level's density, one-shot per level (not iterative); docs/mask_family.md says
which choices are the papers' and which are ours. `run_family` is the unit runner (units.py).
"""

from __future__ import annotations

from rtl_sweep.family.packnet import PackNet
from rtl_sweep.family.sequence import SubsetSequence
from rtl_sweep.family.supsup import SupSup
from rtl_sweep.family.wsn import WSN
from rtl_sweep.serialize import tensor_bytes

FAMILY: dict[str, type[SubsetSequence]] = {c.name: c for c in (PackNet, WSN, SupSup)}


def run_family(ctx, store, kind: str, level: int, rel: str) -> None:
    """Method `kind` at `level`: every subset in order; writes its test outputs, masks, shared
    weights and per-subset buffers to `rel`."""
    store.write_bytes(rel, tensor_bytes(FAMILY[kind](ctx, level).run()))
