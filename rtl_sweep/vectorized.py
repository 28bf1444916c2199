"""Fused levels: many prune-rewind loops of one level as ONE batched forward/backward.

    rtl-sweep run --set prune.vectorize=on
    python -c "import rtl_sweep.vectorized as v; help(v.train_members)"

A wave's loops that share the model and the rewind point (RTL's K tickets and IMP multiple's K
copies: 2K models; IMP single with the equal-parameter model: 2 more) differ only in their masks,
data, seeds and epochs (rtl_sweep/units.fuse builds the stacks).

Their parameters stack to [K, ...] and one `torch.func.vmap` over `functional_call` runs all K
forward passes at once (a conv becomes one grouped conv). Model k still sees exactly the batches
`rtl_sweep.training.train` gives it (`TrainTarget.epoch_batches` with the same seeds). The K losses
are summed before `backward`: model k's loss depends only on row k of the stacked tensors, so row k
of the gradient is model k's own gradient. Models with fewer epochs leave the stack when they are
done (`train_members`), so IMP multiple's extra epochs cost K models, not 2K.

`StackedAdam` is one Adam over the stacked tensors with a step count PER TICKET. Adam is
elementwise, so this equals K separate `torch.optim.Adam`s (tests/test_vectorized.py checks it).
Ragged ends: tickets whose subsets differ in size have different numbers of batches per epoch and
different last-batch sizes. Each step groups the still-active tickets by batch size and runs one
vmapped pass per group (nearly always one group); tickets outside the group take no step at all
(no forward, no Adam update, no moment decay), so the math is the sequential loop's. Nothing is
padded, so batch-norm statistics see exactly the ticket's own batch.

Device path: the data already lives on the device (`RunContext.x_train`); each epoch's indices and
targets of all tickets go to the device in ONE copy and the inner loop only slices and indexes on
the device (no `.item()`, no host round trip). `precision=bf16` runs the forward passes under
`torch.autocast` bf16 (fp32 master weights and Adam state); it is part of the config hash.

Equivalence with the sequential loop is up to float reordering (grouped convs and batched
reductions sum in another order): see tests/test_vectorized.py for the tolerance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import vmap

from rtl_sweep.context import RunContext
from rtl_sweep.serialize import tensor_bytes
from rtl_sweep.pruning import Mask, rewind
from rtl_sweep.store import Store
from rtl_sweep.loops import Member
from rtl_sweep.training import TicketModel, TrainTarget, derive_seed


def use_fused(ctx: RunContext) -> bool:
    """prune.vectorize resolved for this run: 'auto' is on for CUDA only. On 2 CPU cores the batched
    pass measured slower than the sequential loop at batch 64 (`rtl-sweep bench tickets`)."""
    mode = ctx.cfg.prune.vectorize
    return mode == "on" or (mode == "auto" and ctx.device.type == "cuda")


# ---- stacking ------------------------------------------------------------------------------------
def stack(dicts: list[dict]) -> dict[str, torch.Tensor]:
    return {n: torch.stack([d[n] for d in dicts]) for n in dicts[0]}


@dataclass
class TicketStack:
    """K tickets as stacked tensors on one device: params [K, ...] (leaves), buffers, float masks."""

    params: dict[str, torch.Tensor]
    buffers: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]

    @property
    def K(self) -> int:
        return len(next(iter(self.params.values())))

    @classmethod
    def build(cls, start: dict, buffers: dict, masks: list[Mask], device: torch.device) -> "TicketStack":
        """Every ticket rewound to `start` under its own mask (pruned weights exactly zero)."""
        params = stack([rewind(start, m) for m in masks])
        return cls({n: p.to(device).requires_grad_(True) for n, p in params.items()},
                   {n: b.detach().to(device).unsqueeze(0).repeat(len(masks), *[1] * b.dim()).clone()
                    for n, b in buffers.items()},
                   {n: t.to(device=device, dtype=torch.float32) for n, t in stack(masks).items()})

    def ticket_params(self, k: int) -> dict[str, torch.Tensor]:
        return {n: p[k].detach().cpu().clone() for n, p in self.params.items()}

    def select(self, rows: list[int]) -> "TicketStack":
        """A stack of these rows only (new leaf tensors: the rest is no longer computed)."""
        idx = torch.tensor(rows, device=next(iter(self.params.values())).device)
        return TicketStack({n: p.detach().index_select(0, idx).requires_grad_(True) for n, p in self.params.items()},
                           {n: b.index_select(0, idx) for n, b in self.buffers.items()},
                           {n: m.index_select(0, idx) for n, m in self.masks.items()})


def batched_forward(model: TicketModel, params: dict, buffers: dict, masks: dict, x: torch.Tensor,
                    shared: bool = False) -> torch.Tensor:
    """Logits [K, B, out]. Default: everything stacked over K (x is [K, B, ...]). shared=True: ONE
    set of weights and buffers and ONE input [B, ...] seen through K masks (joint retraining)."""
    in_dims = (None, None, 0, None) if shared else (0, 0, 0, 0)
    return vmap(model.forward, in_dims=in_dims)(params, buffers, masks, x, stacked=True)


# ---- the optimizer -------------------------------------------------------------------------------
class StackedAdam:
    """Adam over [K, ...] tensors with one step count per ticket: equal to K `torch.optim.Adam`s.

    `step(rows)` updates only the rows (tickets) in `rows` (a bool tensor [K] on the device, or
    None for all): the other rows keep their weights, moments and step count untouched. The update
    repeats torch's single-tensor Adam op by op (lerp, mul+addcmul, sqrt/bc2 + eps, step_size * m /
    denom), with the bias corrections computed per ticket on the device.
    """

    def __init__(self, params: list[torch.Tensor], lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps = list(params), lr, betas, eps
        self.K = len(self.params[0])
        dev = self.params[0].device
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = torch.zeros(self.K, dtype=torch.float64, device=dev)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def select(self, rows: list[int], params: list[torch.Tensor]) -> "StackedAdam":
        """This optimizer's state for these rows only, driving `params` (the selected stack's)."""
        idx = torch.tensor(rows, device=self.steps.device)
        out = StackedAdam(params, self.lr, self.betas, self.eps)
        out.exp_avg = [m.index_select(0, idx) for m in self.exp_avg]
        out.exp_avg_sq = [v.index_select(0, idx) for v in self.exp_avg_sq]
        out.steps = self.steps.index_select(0, idx)
        return out

    @torch.no_grad()
    def step(self, rows: torch.Tensor | None = None) -> None:
        beta1, beta2 = self.betas
        self.steps += 1 if rows is None else rows.to(self.steps.dtype)
        t = self.steps.clamp(min=1)  # rows that never stepped: any finite value, discarded below
        step_size = (self.lr / (1 - beta1 ** t)).float()
        bc2_sqrt = torch.sqrt(1 - beta2 ** t).float()
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq):
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            shape = (self.K,) + (1,) * (p.dim() - 1)
            ss, bc2 = step_size.view(shape), bc2_sqrt.view(shape)
            if rows is None:
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = (v.sqrt() / bc2).add_(self.eps)
                p.sub_(ss * m / denom)
            else:
                keep = rows.view(shape)
                m_new = m.lerp(g, 1 - beta1)
                v_new = (v * beta2).addcmul_(g, g, value=1 - beta2)
                denom = (v_new.sqrt() / bc2).add_(self.eps)
                p.copy_(torch.where(keep, p - ss * m_new / denom, p))
                m.copy_(torch.where(keep, m_new, m))
                v.copy_(torch.where(keep, v_new, v))


# ---- training ------------------------------------------------------------------------------------
def _epoch_plan(targets: list[TrainTarget], batch_size: int, seeds: list[int], device: torch.device):
    """[(tickets, idx [G, b], targets [G, b])] per step of one epoch, moved to the device in ONE copy.
    Step m groups the tickets that still have a batch m by that batch's size."""
    per = [obj.epoch_batches(batch_size, s) for obj, s in zip(targets, seeds)]
    steps, flat_idx, flat_tgt = [], [], []
    for m in range(max(len(b) for b in per)):
        groups: dict[int, list[int]] = {}
        for k, batches in enumerate(per):
            if m < len(batches):
                groups.setdefault(len(batches[m][0]), []).append(k)
        for size, ks in groups.items():
            steps.append((ks, size))
            flat_idx += [per[k][m][0] for k in ks]
            flat_tgt += [per[k][m][1] for k in ks]
    # One copy each (and one dtype cast): the inner loop then only slices views on the device.
    idx = torch.cat(flat_idx).to(device, non_blocking=True)
    tgt = torch.cat(flat_tgt).to(device, dtype=torch.float32, non_blocking=True)
    K = len(targets)
    row_masks = torch.zeros(len(steps), K, dtype=torch.bool)
    for i, (ks, _) in enumerate(steps):
        row_masks[i, ks] = True
    row_masks = row_masks.to(device, non_blocking=True)
    sizes = [len(ks) * size for ks, size in steps]
    out = []
    for i, (ii, tt) in enumerate(zip(idx.split(sizes), tgt.split(sizes))):
        ks, size = steps[i]
        full = len(ks) == K
        rows = torch.tensor(ks, device=device) if not full else None
        out.append((rows, None if full else row_masks[i], ii.view(len(ks), size),
                    tt.view(len(ks), size, *tt.shape[1:])))  # mse targets keep their outputs dim
    return out


def _losses(targets: list[TrainTarget], logits: torch.Tensor, tgt: torch.Tensor,
            columns: torch.Tensor) -> torch.Tensor:
    """Per-ticket mean loss [G] (the target's own loss, one row per ticket)."""
    G, b = tgt.shape[:2]
    if targets[0].kind == "mse":
        return (logits.float() - tgt).pow(2).reshape(G, -1).mean(1)
    if targets[0].kind == "binary":
        sel = logits.gather(2, columns.view(G, 1, 1).expand(G, b, 1)).squeeze(2)
        return F.binary_cross_entropy_with_logits(sel.float(), tgt, reduction="none").mean(1)
    ce = F.cross_entropy(logits.reshape(G * b, -1).float(), tgt.reshape(-1).long(), reduction="none")
    return ce.view(G, b).mean(1)


def train_stack(model: TicketModel, st: TicketStack, targets: list[TrainTarget], x: torch.Tensor,
                epochs: range | int, lr: float, batch_size: int, seeds: list[int], amp: bool = False,
                opt: StackedAdam | None = None) -> StackedAdam:
    """Train the K models of `st` in place, model k on targets[k] with seed seeds[k]; the math of K
    calls of `rtl_sweep.training.train`. `epochs`: a count, or the range of epoch indices to run
    (continuing with `opt`, the optimizer of the epochs before). `x` lives on the device already."""
    kinds = {o.kind for o in targets}
    if len(kinds) != 1:
        raise ValueError(f"a fused stack needs one target kind, got {sorted(kinds)}")
    device = x.device
    opt = opt or StackedAdam(list(st.params.values()), lr)
    all_columns = torch.tensor([o.column for o in targets], device=device)
    model.module.train()
    for epoch in range(epochs) if isinstance(epochs, int) else epochs:
        plan = _epoch_plan(targets, batch_size, [derive_seed(s, "epoch", epoch) for s in seeds], device)
        for rows, row_mask, idx, tgt in plan:
            G, b = idx.shape
            xb = x.index_select(0, idx.reshape(-1)).view(G, b, *x.shape[1:])
            opt.zero_grad()
            if rows is None:       # every model has a batch of this size: the stacked tensors as is
                params, bufs, masks, cols = st.params, st.buffers, st.masks, all_columns
            else:                  # a ragged end: only these models step
                params = {n: p.index_select(0, rows) for n, p in st.params.items()}
                bufs = {n: v.index_select(0, rows) for n, v in st.buffers.items()}
                masks = {n: v.index_select(0, rows) for n, v in st.masks.items()}
                cols = all_columns.index_select(0, rows)
            with autocast(device, amp):
                logits = batched_forward(model, params, bufs, masks, xb)
            _losses(targets, logits, tgt, cols).sum().backward()
            if rows is not None:   # batch-norm running statistics of the models that stepped
                for n, v in bufs.items():
                    st.buffers[n].index_copy_(0, rows, v)
            opt.step(row_mask)
    return opt


def autocast(device: torch.device, bf16: bool):
    """bf16 autocast for the forward pass (fp32 master weights, Adam state and loss), or nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def train_members(ctx: RunContext, members: list[Member], amp: bool = False) -> list[tuple[dict, torch.Tensor]]:
    """Train `members` (same model and rewind point; their own masks, targets, seeds and epochs)
    as one stack; returns each member's (trained weights on CPU, test outputs), in order.

    Members with fewer epochs finish first; the stack then goes on with the others only, so a
    longer-trained member (IMP multiple: extraction plus joint-retraining epochs) costs its extra
    epochs and nothing is padded."""
    cfg = ctx.cfg
    st = TicketStack.build(ctx.rewind_params, ctx.rewind_buffers, [m.mask for m in members], ctx.device)
    rows = list(range(len(members)))     # member index of each row of the stack
    out: dict[int, tuple[dict, torch.Tensor]] = {}
    opt, epoch = None, 0
    for end in sorted({m.epochs for m in members}):
        now = [members[i] for i in rows]
        opt = train_stack(ctx.model, st, [m.target for m in now], ctx.x_train, range(epoch, end),
                          cfg.prune.lr, cfg.prune.batch_size, [m.seed for m in now], amp, opt)
        epoch = end
        ending = [j for j, i in enumerate(rows) if members[i].epochs == end]
        fin = st.select(ending)
        logits = predict_logits_vectorized(ctx.model, fin.params, fin.buffers, fin.masks, ctx.x_test)
        for j, lg in zip(ending, logits):
            out[rows[j]] = (st.ticket_params(j), lg)
        going = [j for j, i in enumerate(rows) if members[i].epochs > end]
        if not going:
            break
        st = st.select(going)
        opt = opt.select(going, list(st.params.values()))
        rows = [rows[j] for j in going]
    return [out[i] for i in range(len(members))]


# ---- prediction ----------------------------------------------------------------------------------
@torch.no_grad()
def predict_logits_vectorized(model: TicketModel, params: dict, buffers: dict, masks: dict,
                              x: torch.Tensor, shared: bool = False, chunk: int | None = None) -> list[torch.Tensor]:
    """Each ticket's logits on all of `x` (CPU float, one tensor per ticket) in one vmapped pass per
    chunk. params/buffers stacked [K, ...] (separate tickets) or, with shared=True, one set seen
    through the K stacked masks (joint retraining). Masks: stacked float or bool tensors.
    `chunk`: inputs per ticket per pass. Default 2048 on CUDA; 64 on CPU, where the grouped convs
    of larger passes fall out of cache (measured: 10 tickets x 1000 MNIST images took 1.1 s at 64,
    2.7 s at 204, against 0.9 s for 10 sequential passes)."""
    masks = {n: m.to(device=x.device, dtype=torch.float32) for n, m in masks.items()}
    K = len(next(iter(masks.values())))
    chunk = chunk or (2048 if x.device.type == "cuda" else 64)
    model.module.eval()
    out = []
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk]
        if not shared:
            xb = xb.unsqueeze(0).expand(K, *xb.shape)
        out.append(batched_forward(model, params, buffers, masks, xb, shared=shared))
    model.module.train()
    logits = torch.cat(out, dim=1).float().cpu()
    return list(logits.unbind(0))


def joint_logits_vectorized(ctx: RunContext, params: dict, bufs: dict, masks: list[Mask]) -> list[torch.Tensor]:
    """`joint.joint_logits` in one vmapped pass: the shared weights through all K masks."""
    return predict_logits_vectorized(ctx.model, {n: p.detach() for n, p in params.items()}, bufs,
                                     stack(masks), ctx.x_test, shared=True)


# ---- the run unit --------------------------------------------------------------------------------
def run_stack(ctx: RunContext, store: Store, members: list[Member], done: list[bool]) -> float:
    """Unit('stack'): train `members` fused and write the checkpoints of those not `done`, in
    order, with the same keys as `loops.run_member` and each part's share of the time. A stack
    killed halfway is retrained whole: the same stack gives the same bits, a smaller one might not
    (batched kernels may sum in another order for another stack size)."""
    t0 = time.perf_counter()
    trained = train_members(ctx, members, amp=ctx.cfg.precision == "bf16")
    todo = [i for i, d in enumerate(done) if not d]
    share = (time.perf_counter() - t0) / max(len(todo), 1)
    for i in todo:
        t1 = time.perf_counter()
        m, (weights, logits) = members[i], trained[i]
        store.write_bytes(m.ckpt, tensor_bytes({"mask": m.mask, "logits": logits, **m.finish(weights)}))
        store.write_text(m.ckpt + ".time", f"{share + time.perf_counter() - t1:.6f}")
    return time.perf_counter() - t0


__all__ = ["StackedAdam", "TicketStack", "autocast", "batched_forward", "joint_logits_vectorized",
           "predict_logits_vectorized", "run_stack", "stack", "train_members", "train_stack", "use_fused"]
