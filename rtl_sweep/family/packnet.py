"""PackNet (Mallya & Lazebnik 2018, "PackNet: Adding Multiple Tasks to a Single Network by Iterative
Pruning"): subsets in a fixed order, each packing its share of the free weights. Pure torch.

    python -c "import rtl_sweep.family.packnet as p; help(p.PackNet)"

Subset k (0 .. K-1, in order): train every free weight (the weights no earlier subset owns; those are
used read-only in the forward pass) for `epochs - joint.epochs` epochs, keep its share of the free
weights by magnitude (prune.ranking, as every magnitude pruner of the run), retrain the kept ones for
joint.epochs epochs (PackNet's short retraining after pruning) with the other free weights at zero.
Its mask is the weights owned by subsets 0 .. k. The free weights it did not keep go back to their
rewind-point values, so every subset starts its free weights from the shared init (PackNet leaves
them at zero after pruning; starting from the init is our choice: every method starts from it).

Budget (our mapping; the paper prunes a fixed fraction, e.g. 50-75%, of the free weights per task):
the union of the masks has the level's density and each subset owns an equal share of it, so
subset k's mask has density (k + 1) / K of the level's.
"""

from __future__ import annotations

import torch

from rtl_sweep.family.sequence import SubsetSequence, fit
from rtl_sweep.methods import PACKNET
from rtl_sweep.pruning import Mask, prune


def shares(kept: int, K: int) -> list[int]:
    """`kept` weights in K equal shares (the first kept % K subsets get one more)."""
    return [kept // K + (1 if k < kept % K else 0) for k in range(K)]


class PackNet(SubsetSequence):
    name = "packnet"

    def subset(self, k: int) -> Mask:
        ctx, cfg = self.ctx, self.ctx.cfg
        retrain = min(cfg.joint.epochs, PACKNET.epochs(cfg) - 1)
        bufs = self.new_buffers()
        free = {n: ~t for n, t in self.taken.items()}
        # Train: the free weights and (subset 0) the dense ones; earlier subsets' weights read-only.
        leaves = self.leaves(self.prunable + self.dense_names(k))
        fit(ctx, k, list(leaves.values()), lambda: self.forward_weights(leaves, free), bufs,
            PACKNET.epochs(cfg) - retrain, self.seed(k, "train"))
        trained = {n: torch.where(free[n], leaves[n].detach(), self.weights[n]).cpu() for n in self.prunable}
        share = shares(ctx.kept[self.level], ctx.K)[k]
        own = {n: m.to(ctx.device) for n, m in
               prune({n: f.cpu() for n, f in free.items()}, trained, share, cfg.prune.ranking).items()}
        self.write_back(leaves, own)  # the kept weights at their trained values, the rest unchanged
        # Retrain the kept weights (and subset 0's dense ones) with the pruned free weights at zero.
        mask = {n: (self.taken[n] | own[n]).to(self.weights[n].dtype) for n in self.prunable}
        leaves = self.leaves(self.prunable + self.dense_names(k))
        fit(ctx, k, list(leaves.values()), lambda: self.forward_weights(leaves, own, mask), bufs,
            retrain, self.seed(k, "retrain"))
        self.write_back(leaves, own)
        self.taken = {n: self.taken[n] | own[n] for n in self.prunable}
        return {n: t.clone() for n, t in self.taken.items()}
