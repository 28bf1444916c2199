"""WSN, Winning SubNetworks (Kang et al. 2022, "Forget-free Continual Learning with Winning
Subnetworks", ICML): per-subset masks learned from scores over shared weights. Pure torch.

    python -c "import rtl_sweep.family.wsn as w; help(w.WSN)"

Subset k (0 .. K-1, in order) learns real scores over every prunable weight; its mask is the top c%
of |scores| per layer (c = the level's density), straight-through to the scores (supermask.py). The
weights are trained at the same time, but only where free: a weight some earlier subset's mask
selected is used read-only (the paper's update: the gradient times 1 minus the accumulated mask).
Subset k trains for the epochs the exposure rule gives; scores and weights share one Adam at
prune.lr (our choice: the run's optimizer for every method).
"""

from __future__ import annotations

from rtl_sweep.family.sequence import SubsetSequence, fit
from rtl_sweep.family.supermask import init_scores, masks_of, straight_through
from rtl_sweep.methods import WSN as METHOD
from rtl_sweep.pruning import Mask


class WSN(SubsetSequence):
    name = "wsn"

    def subset(self, k: int) -> Mask:
        ctx = self.ctx
        bufs = self.new_buffers()
        free = {n: ~t for n, t in self.taken.items()}
        scores = init_scores({n: self.weights[n] for n in self.prunable}, self.seed(k, "scores"))
        leaves = self.leaves(self.prunable + self.dense_names(k))

        def weights() -> dict:
            mask = {n: straight_through(s, self.density) for n, s in scores.items()}
            return self.forward_weights(leaves, free, mask)

        fit(ctx, k, list(leaves.values()) + list(scores.values()), weights, bufs,
            METHOD.epochs(ctx.cfg), self.seed(k, "train"))
        mask = masks_of(scores, self.density)
        self.write_back(leaves, {n: free[n] & mask[n] for n in self.prunable})
        self.taken = {n: self.taken[n] | mask[n] for n in self.prunable}
        return mask
