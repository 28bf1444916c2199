"""rtl-sweep bench tickets: RTL ticket extraction (K=10) vs IMP single with the same data exposure,
sequential and vectorized.

    rtl-sweep bench tickets
    rtl-sweep bench tickets --tickets-batch 16 --repeats 5

Extraction only (no joint retraining, no baselines beside the single model), the same levels on
both sides, the bundled mnist5k data and small CNN. Exposure: each RTL ticket trains on 2|D_k|
samples per epoch (its positives plus as many negatives), so the K tickets see 2N samples per epoch;
IMP single sees N, so it trains 2x the epochs (the engine's own rule: extraction + joint epochs).
Figures: RTL sequential (K engine loop units per level) / IMP single, RTL vectorized (one
Unit('tickets') per level) / IMP single, and vectorized / sequential. Goal: RTL / single <= 2.
"""

from __future__ import annotations

import tempfile

from rtl_sweep.bench.common import interleaved, ratio_of, row, threads

GOAL = 2.0


def configure(p) -> None:
    p.add_argument("--tickets-epochs", type=int, default=1, help="epochs per level per ticket (tickets)")
    p.add_argument("--tickets-target", type=float, default=0.5,
                   help="target sparsity (tickets): 0.5 = 2 levels (dense, 50%%)")
    p.add_argument("--tickets-batch", type=int, default=64, help="mini-batch size (tickets)")


def run(args) -> list[dict]:
    from rtl_sweep.config import RunConfig
    from rtl_sweep.context import build_context
    from rtl_sweep.store import Store
    from rtl_sweep.units import Unit, run_unit

    E = args.tickets_epochs
    cfg = RunConfig().with_overrides([f"prune.epochs={E}", f"joint.epochs={E}",
                                      f"prune.target_sparsity={args.tickets_target}",
                                      f"prune.batch_size={args.tickets_batch}", "baselines=imp_single"])
    with threads(args.threads):
        ctx = build_context(cfg, "cpu")
        K = ctx.K

        def levels(units_of):
            def go():
                with tempfile.TemporaryDirectory() as d:
                    store = Store(d)
                    for level in range(ctx.levels):
                        for u in units_of(level):
                            run_unit(ctx, store, u)
            return go

        fns = {
            "sequential": levels(lambda s: [Unit("loop", s, "rtl", k) for k in range(K)]),
            "vectorized": levels(lambda s: [Unit("tickets", s, "rtl", K - 1)]),
            "single": levels(lambda s: [Unit("loop", s, "imp_single")]),
        }
        t = interleaved(fns, args.repeats)
        settings = {"data": cfg.data.name, "model": cfg.model.name, "K": K, "levels": ctx.levels,
                    "rtl_epochs": E, "single_epochs": 2 * E, "batch_size": cfg.prune.batch_size,
                    "repeats": args.repeats, "threads": args.threads}
        return [row("tickets", f"{a} / {b}", *ratio_of(t, x, y), goal, settings)
                for a, b, x, y, goal in (
                    ("RTL K=10 sequential", "IMP single", "sequential", "single", GOAL),
                    ("RTL K=10 vectorized", "IMP single", "vectorized", "single", GOAL),
                    ("RTL vectorized", "RTL sequential", "vectorized", "sequential", None))]
