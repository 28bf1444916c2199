"""A run folder's checkpoint files: the units of work that write them, their names, how one is read.

    python -c "from rtl_sweep.checkpoints import Unit; print(Unit('loop', 2, 'rtl', 4).ckpt())"

Below the engine's run machinery (units.py computes the units, loops.py and routing.py write their
files), so a reader of finished runs (a task's pictures, the records) names and loads checkpoints
without importing what trains them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtl_sweep import methods
from rtl_sweep.serialize import tensor_load
from rtl_sweep.store import Store

ROUTER_CKPT = "ckpt/router.pt"


@dataclass(frozen=True)
class Loop:
    kind: str      # the owning method's loop name: rtl | imp_multiple | imp_single
    k: int = -1    # subset id; -1 for the single model

    def __str__(self) -> str:
        return self.kind if self.k < 0 else f"{self.kind}-{self.k}"

    def ckpt(self, level: int) -> str:
        return f"ckpt/{self}/L{level}.pt"


@dataclass(frozen=True)
class Unit:
    kind: str        # loop | joint | equal | stack (its `parts`, loop and equal units, trained fused)
                     # | router (the learned router, once per run, in wave 0) | packnet | wsn | supsup
    level: int
    loop_kind: str = ""
    k: int = -1
    parts: tuple = ()

    @property
    def loop(self) -> Loop:
        return Loop(self.loop_kind, self.k)

    def __str__(self) -> str:
        if self.kind == "stack":
            first, last = (p.loop if p.kind == "loop" else p.kind for p in (self.parts[0], self.parts[-1]))
            return f"stack[{first}..{last}]@L{self.level}"
        return f"{self.loop if self.kind == 'loop' else self.kind}@L{self.level}"

    def ckpt(self) -> str:
        if self.kind == "stack":  # its parts' files are written in order, the last one last
            return self.parts[-1].ckpt()
        if self.kind == "loop":
            return self.loop.ckpt(self.level)
        if self.kind == "router":
            return ROUTER_CKPT
        folder = methods.IMP_SINGLE_EQUAL.name if self.kind == "equal" else self.kind
        return f"ckpt/{folder}/L{self.level}.pt"

    def split(self, n: int) -> list["Unit"]:
        """A stack cut into n stacks of about equal size (one per device), in the same order."""
        if self.kind != "stack" or n <= 1 or len(self.parts) <= 1:
            return [self]
        n = min(n, len(self.parts))
        bounds = [round(i * len(self.parts) / n) for i in range(n + 1)]
        return [Unit("stack", self.level, parts=self.parts[a:b]) for a, b in zip(bounds, bounds[1:])]


def unit_wall(store: Store, unit: Unit) -> float:
    rel = unit.ckpt() + ".time"
    return float(store.read_bytes(rel)) if store.exists(rel) else float("nan")


def load_unit(store: Store, unit: Unit) -> dict:
    return tensor_load(store.read_bytes(unit.ckpt()))
