"""The methods a run compares, each declared once: its loops, exposure, parameter count, label.

    python -c "from rtl_sweep.methods import METHODS; print(list(METHODS))"

A method is data, not code: the engine builds its units from `loop` / `unit`, trains each loop for
`epochs(cfg)`, scores its outputs as K tickets or as one model (`per_subset`), and counts its
parameters by `count`. Adding a method is one entry here (plus, for a new kind of unit, its runner
in rtl_sweep/units.py). This module imports nothing from the engine, so the config can validate
`baselines` against it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    name: str                  # the `method` column of the rounds table
    label: str                 # how summaries and plots name it
    count: str                 # parameters it must store: union (K masks over ONE shared tensor) |
                               # sum (K separately trained copies) | single (one model) | masks (K
                               # bit masks over weights regenerated from the seed, in 32-bit words)
    loop: str = ""             # name of its own prune-rewind loops (checkpoints ckpt/<loop>[-k]/)
    per_subset: bool = True    # one ticket or copy per subset (scored as K tickets) | one model
    unit: str = ""             # else: the unit that makes its outputs (joint | equal | a family
                               # method's name: rtl_sweep/family/)
    masks_from: str = ""       # a unit-made method's masks: those of this loop
    lag: int = 0               # its level-L unit runs in wave L + lag (it needs level L's results)
    first_level: int = 0       # its first level (the equal-parameter model has no dense level)
    extra_epochs: bool = True  # exposure: prune.epochs + joint.epochs per level (RTL's extraction
                               # plus joint retraining), else prune.epochs alone
    cost: float = 1.0          # relative cost of one loop level, for largest-first dispatch
    baseline: bool = False     # optional, listed in the config's `baselines`
    requires: str = ""         # another baseline it builds on
    signal: bool = False       # its rows carry the run's similarity signal and collapse verdict
    style: tuple = ("C0", "o", "-")   # plot colour, marker, line style

    def epochs(self, cfg) -> int:
        if cfg.exposure == "final":  # every deployed model's final weights: the same epochs
            return cfg.prune.epochs + cfg.joint.epochs
        return cfg.prune.epochs + (cfg.joint.epochs if self.extra_epochs else 0)


RTL_TICKETS = Method("rtl_tickets", "RTL tickets (separate)", "sum", loop="rtl", extra_epochs=False,
                     signal=True, style=("C1", "s", "--"))
RTL = Method("rtl", "RTL (joint)", "union", unit="joint", masks_from="rtl", signal=True,
             style=("C0", "o", "-"))
IMP_MULTIPLE = Method("imp_multiple", "IMP multiple", "sum", loop="imp_multiple", cost=2.0, baseline=True,
                      style=("C3", "v", "--"))
IMP_SINGLE = Method("imp_single", "IMP single", "single", loop="imp_single", per_subset=False, cost=4.0,
                    baseline=True, style=("C2", "^", "-"))
IMP_SINGLE_EQUAL = Method("imp_single_equal", "IMP single @RTL params", "single", per_subset=False,
                          unit="equal", lag=1, first_level=1, baseline=True, requires="imp_single",
                          style=("C4", "D", ":"))
# The mask-per-subset family (rtl_sweep/family/, docs/mask_family.md): K subsets trained in order
# over one shared tensor, one unit per level, the epochs of IMP single / multiple per subset.
PACKNET = Method("packnet", "PackNet", "union", unit="packnet", baseline=True, style=("C5", "P", "-."))
WSN = Method("wsn", "WSN", "union", unit="wsn", baseline=True, style=("C6", "X", "-."))
SUPSUP = Method("supsup", "SupSup", "masks", unit="supsup", baseline=True, style=("C7", "*", "-."))
FAMILY = (PACKNET.name, WSN.name, SUPSUP.name)

# Row order of the rounds table and of the summaries.
METHODS: dict[str, Method] = {m.name: m for m in (RTL_TICKETS, RTL, IMP_MULTIPLE, IMP_SINGLE,
                                                  IMP_SINGLE_EQUAL, PACKNET, WSN, SUPSUP)}
BASELINES = tuple(m.name for m in METHODS.values() if m.baseline)
ORDER = [RTL.name, RTL_TICKETS.name, IMP_SINGLE.name, IMP_MULTIPLE.name, IMP_SINGLE_EQUAL.name,
         *FAMILY]  # summaries


def joint_epochs(cfg) -> int:
    """Epochs of RTL's joint retraining from the rewind point: joint.epochs under exposure=passes
    (its tickets already trained prune.epochs in extraction), all of a level's epochs under final."""
    return cfg.prune.epochs + cfg.joint.epochs if cfg.exposure == "final" else cfg.joint.epochs


def active(cfg) -> list[Method]:
    """The methods a config runs, in row order: RTL's tickets always, RTL after joint retraining
    when joint.epochs > 0, and the listed baselines."""
    out = []
    for m in METHODS.values():
        if m.baseline and m.name not in cfg.baselines:
            continue
        if m.unit == "joint" and cfg.joint.epochs <= 0:
            continue
        out.append(m)
    return out


def reported(cfg) -> Method:
    """The RTL method a run reports per level (to Tune, to the progress line): after joint
    retraining when there is one, else the separate tickets."""
    return RTL if cfg.joint.epochs > 0 else RTL_TICKETS


def of_loop(loop: str) -> Method:
    """The method whose prune-rewind loops are named `loop`."""
    return next(m for m in METHODS.values() if m.loop == loop)
