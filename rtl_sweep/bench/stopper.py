"""What collapse stopping saves: the collapse-study space swept twice, with and without the stopper.

    rtl-sweep bench stopper
    rtl-sweep bench stopper --samples 6 --space search_spaces/collapse_study.yaml

Both sweeps use the space's seeded random sampler, so they run the same trial configs; the only
difference is the CollapseStopper. Printed, measured in this one invocation: the fraction of
ticket-rounds (tickets x pruning levels trained) and of wall time the stopper saved, and the best
balanced accuracy each sweep found (best over trials and levels: levels after a collapse only lose
accuracy, so stopping there should not cost the best score).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

DEFAULT_SPACE = "search_spaces/collapse_study.yaml"


def configure(p) -> None:
    p.add_argument("--space", default=None, help=f"collapse-study space (default: {DEFAULT_SPACE})")
    p.add_argument("--samples", type=int, default=4, help="trials per sweep")


def _space_path(arg: str | None) -> str:
    if arg:
        return arg
    here = Path(__file__).resolve().parents[2] / DEFAULT_SPACE
    return str(here if here.exists() else DEFAULT_SPACE)


def run(args) -> list[dict]:
    from rtl_sweep.sweep.folder import prepare
    from rtl_sweep.sweep.space import load_space
    from rtl_sweep.sweep.tuner import run_sweep

    base = load_space(_space_path(getattr(args, "space", None)), {"samples": getattr(args, "samples", 4)})
    root = tempfile.mkdtemp(prefix="rtl-bench-stopper-")
    out = {}
    for label, collapse in (("with_stopper", True), ("without_stopper", False)):
        spec = dataclasses.replace(base, stopper={**base.stopper, "collapse": collapse})
        spec, sweep_dir = prepare(spec, root, f"{base.name}-{label}")
        t0 = time.perf_counter()
        rows = run_sweep(spec, sweep_dir, quiet=True)
        wall = time.perf_counter() - t0
        out[label] = {"wall": wall, "rows": rows,
                      "ticket_rounds": sum(int(r["k"] or 0) * int(r["levels"]) for r in rows),
                      "best": max((r["best_balanced_accuracy"] or 0.0) for r in rows),
                      "stopped": sum(r["status"] == "stopped_collapse" for r in rows)}
    w, wo = out["with_stopper"], out["without_stopper"]
    settings = {"space": base.path, "samples": base.samples, "sampler": base.sampler, "seed": base.seed}
    return [
        {"bench": "stopper", "figure": "ticket-rounds with stopper / without", "numerator_s": w["ticket_rounds"],
         "denominator_s": wo["ticket_rounds"], "ratio": w["ticket_rounds"] / max(wo["ticket_rounds"], 1),
         "goal": 0.70, "settings": settings,
         "note": f"saved {1 - w['ticket_rounds'] / max(wo['ticket_rounds'], 1):.1%} of ticket-rounds; "
                 f"{w['stopped']}/{len(w['rows'])} trials stopped by collapse"},
        {"bench": "stopper", "figure": "sweep wall time with stopper / without", "numerator_s": w["wall"],
         "denominator_s": wo["wall"], "ratio": w["wall"] / wo["wall"], "goal": None, "settings": settings,
         "note": f"saved {1 - w['wall'] / wo['wall']:.1%} of wall time"},
        {"bench": "stopper", "figure": "best balanced accuracy lost by stopping (points)",
         "numerator_s": w["best"], "denominator_s": wo["best"], "ratio": 100 * (wo["best"] - w["best"]),
         "goal": 0.5, "settings": settings,
         "note": f"best {w['best']:.4f} with stopper vs {wo['best']:.4f} without"},
    ]
