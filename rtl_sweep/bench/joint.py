"""rtl-sweep bench joint: one level's joint retraining, eager vs torch.compile and contiguous vs
channels_last, side by side on the device present.

    rtl-sweep bench joint
    rtl-sweep bench joint --joint-set model.name=ghostnet --joint-set data.name=synthetic \
        --joint-set data.synthetic_size=1000

Joint retraining is the paper's Algorithm 2: K optimizer steps per batch index, each one small
masked forward and backward, in order; nothing can be batched across tickets, so on a GPU it is
bound by kernel launches. Two switches may make a step cheaper, both off by default until this
benchmark measures them faster on the device at hand: `joint.compile` (torch.compile of the masked
forward: fused kernels; reduce-overhead adds CUDA graphs) and `memory_format=channels_last` (NHWC
convolutions). Setup: the bundled default (mnist5k, small CNN, K = 10 tickets) with --joint-set
overrides; the level-1 masks come from one untimed level of ticket training; each variant retrains
the same masks for --joint-epochs epochs from the same rewind point. torch.compile's first call
compiles: it is timed apart (`... incl. compiling`), then the variants are timed interleaved.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time

from rtl_sweep.bench.common import interleaved, ratio_of, row, threads


def configure(p) -> None:
    p.add_argument("--joint-epochs", type=int, default=1, help="joint epochs per timed call (joint)")
    p.add_argument("--joint-set", action="append", default=[], metavar="KEY=VALUE",
                   help="joint: override a key of the benchmarked config (e.g. model.name=ghostnet)")


def run(args) -> list[dict]:
    import torch
    from torch._dynamo.utils import counters

    from rtl_sweep.config import RunConfig
    from rtl_sweep.context import build_context
    from rtl_sweep.joint import joint_retrain
    from rtl_sweep.methods import RTL_TICKETS
    from rtl_sweep.store import Store
    from rtl_sweep.training import TicketModel
    from rtl_sweep.units import Unit, rtl_masks, run_unit

    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = RunConfig().with_overrides(["prune.epochs=1", f"joint.epochs={args.joint_epochs}",
                                      "baselines=imp_single", *args.joint_set])
    with threads(args.threads if device == "cpu" else None), tempfile.TemporaryDirectory() as d:
        ctx = build_context(cfg, device)
        store = Store(d)
        for k in range(ctx.K):  # level 0 of RTL's tickets: the masks joint retraining uses at level 1
            run_unit(ctx, store, Unit("loop", 0, RTL_TICKETS.loop, k))
        masks = rtl_masks(ctx, store, 1)

        def variant(compile_mode: str, memory_format):
            c = dataclasses.replace(ctx, cfg=ctx.cfg.with_overrides([f"joint.compile={compile_mode}"]),
                                    model=TicketModel(ctx.model.module, ctx.model.prunable, memory_format))

            def go():
                joint_retrain(c, masks, 1)
                if device == "cuda":
                    torch.cuda.synchronize()
            return go

        fns = {"eager": variant("off", torch.contiguous_format),
               "compiled": variant("default", torch.contiguous_format)}
        if device == "cuda":  # CUDA graphs; on a CPU reduce-overhead is the default mode
            fns["graphs"] = variant("reduce-overhead", torch.contiguous_format)
        if any(p.dim() == 4 for p in ctx.init_params.values()):
            fns["channels_last"] = variant("off", torch.channels_last)
        first, skips = {}, 0
        for name, fn in fns.items():  # warm-up; the compiled variants compile here
            before = counters["inductor"]["cudagraph_skips"]
            t0 = time.perf_counter()
            fn()
            first[name] = time.perf_counter() - t0
            if name == "graphs":  # graphs inductor declined (e.g. batch norm's in-place statistics)
                skips = counters["inductor"]["cudagraph_skips"] - before
        t = interleaved(fns, args.repeats)
        # rows inside the block: their machine line reports the threads timed
        settings = {"data": cfg.data.name, "model": cfg.model.name, "K": ctx.K, "joint_epochs": args.joint_epochs,
                    "batch_size": cfg.prune.batch_size, "repeats": args.repeats, "device": device,
                    "threads": args.threads if device == "cpu" else None, "overrides": list(args.joint_set)}
        rows = [row("joint", "joint retraining compiled / eager", *ratio_of(t, "compiled", "eager"), None,
                    settings, device),
                row("joint", "first compiled call incl. compiling / eager", first["compiled"] / first["eager"],
                    first["compiled"], first["eager"], None, settings, device)]
        if "graphs" in fns:
            label = f" ({skips} graphs left without CUDA graphs)" if skips else ""
            rows.append(row("joint", "joint retraining compiled with CUDA graphs / eager" + label,
                            *ratio_of(t, "graphs", "eager"), None, {**settings, "cudagraph_skips": skips}, device))
        if "channels_last" in fns:
            rows.append(row("joint", "joint retraining channels_last / contiguous",
                            *ratio_of(t, "channels_last", "eager"), None, settings, device))
    return rows
