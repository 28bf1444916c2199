"""SupSup, Supermasks in Superposition (Wortsman et al. 2020, NeurIPS): one supermask per subset over
fixed random weights, learned by edge-popup. Pure torch.

    python -c "import rtl_sweep.family.supsup as s; help(s.SupSup)"

The weights are the run's shared init theta_0 and never change (every parameter, dense ones too);
subset k (0 .. K-1) learns only real scores, its mask being the top c% of |scores| per layer
(c = the level's density), straight-through to the scores (Ramanujan et al. 2020). Stored: the K
masks; the weights are regenerated from the seed (methods.SUPSUP counts the masks' bits). SupSup
uses signed-constant weights (+-sigma per layer); the run's shared init is our choice, so every
method starts from the same tensor. Scores train with Adam at prune.lr (SupSup used SGD or RMSProp:
our choice is the run's optimizer for every method).
"""

from __future__ import annotations

from rtl_sweep.family.sequence import SubsetSequence, fit
from rtl_sweep.family.supermask import init_scores, masks_of, straight_through
from rtl_sweep.methods import SUPSUP as METHOD
from rtl_sweep.pruning import Mask


class SupSup(SubsetSequence):
    name = "supsup"

    def start(self) -> tuple[dict, dict]:
        """theta_0 itself, not a late-rewind point: the weights must be regenerable from the seed."""
        return self.ctx.init_params, self.ctx.init_buffers

    def subset(self, k: int) -> Mask:
        bufs = self.new_buffers()
        scores = init_scores({n: self.weights[n] for n in self.prunable}, self.seed(k, "scores"))

        def weights() -> dict:
            mask = {n: straight_through(s, self.density) for n, s in scores.items()}
            return self.forward_weights({}, self.taken, mask)  # no leaves: every weight read-only

        fit(self.ctx, k, list(scores.values()), weights, bufs, METHOD.epochs(self.ctx.cfg),
            self.seed(k, "train"))
        return masks_of(scores, self.density)
