"""Routing: how an input picks its ticket. One function per routing; the learned router is a unit.

    rtl-sweep run --set protocol=multiclass --set partition.method=group \
        --set routes=[oracle,centroid,learned,confidence]

The paper routes "by context": the input's subset id is known (the oracle). The other routings need
no oracle, and each maps the tickets' outputs on some inputs (and the inputs) to one subset per input:
- argmax (ovr): every ticket reads its own output k through the shared weights; the largest wins,
  so the K detectors form a K-way classifier.
- confidence (multiclass): every ticket predicts; the most confident answer (largest softmax
  probability) wins. No router, no parameters.
- entropy (multiclass): SupSup's one-shot task inference (Wortsman et al. 2020): mix the K
  tickets' outputs with coefficients alpha = 1/K, take the gradient of the mixture's output entropy
  with respect to alpha, and pick the ticket whose coefficient lowers the entropy most (the most
  negative gradient). SupSup mixes the masks inside one network; mixing the outputs is our choice,
  so it costs the K forward passes the other routings already made. No parameters.
- centroid (multiclass): the nearest centroid of each subset's training inputs in the partition's
  embedding (partition.embedding); for k-means partitions these are its own centroids, so this is
  the routing k-means always had.
- learned (multiclass): a small network (router.*) trained once per run, on the training split
  only, to predict the subset id; it is the unit `router` (checkpoint ckpt/router.pt).
No routing here reads a label or a subset id of the inputs it routes; the scores that compare the
choice with the truth live in records.py and the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from rtl_sweep.checkpoints import ROUTER_CKPT
from rtl_sweep.config import ModelConfig, routes_of
from rtl_sweep.context import RunContext
from rtl_sweep.errors import ConfigError
from rtl_sweep.models import build_model
from rtl_sweep.serialize import tensor_bytes, tensor_load
from rtl_sweep.store import Store
from rtl_sweep.training import TicketModel, TrainTarget, derive_seed, new_state, predict_logits, train

# (the tickets' outputs on the inputs, the inputs) -> subset id per input
Choose = Callable[[list[torch.Tensor], torch.Tensor], np.ndarray]


# ---- routings that read only the tickets' outputs ---------------------------------------------
def argmax_route(outputs: list[torch.Tensor]) -> np.ndarray:
    """ovr: ticket k's own output k on every input; the largest wins (first on ties)."""
    return torch.stack([lg[:, k] for k, lg in enumerate(outputs)], 1).argmax(1).numpy()


def confidence_route(outputs: list[torch.Tensor]) -> np.ndarray:
    """multiclass: each ticket's largest softmax probability; the most confident ticket wins."""
    conf = torch.stack([lg.float().softmax(1).max(1).values for lg in outputs], 1)
    return conf.argmax(1).numpy()


def entropy_route(outputs: list[torch.Tensor]) -> np.ndarray:
    """multiclass: argmin over k of d H(softmax(sum_k alpha_k logits_k)) / d alpha_k at alpha = 1/K,
    per input (SupSup's one-shot inference, on the tickets' outputs)."""
    logits = torch.stack([lg.detach().float() for lg in outputs], 0)   # [K, N, C]
    alpha = torch.full((logits.shape[0], logits.shape[1]), 1.0 / logits.shape[0], requires_grad=True)
    log_p = (alpha[:, :, None] * logits).sum(0).log_softmax(1)
    entropy = -(log_p.exp() * log_p).sum()   # inputs are independent: one backward gives every gradient
    (grad,) = torch.autograd.grad(entropy, alpha)
    return grad.argmin(0).numpy()


# ---- centroid routing -------------------------------------------------------------------------
def nearest(z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid (squared Euclidean distance, float64) of each row of z."""
    z, c = z.astype(np.float64), centroids.astype(np.float64)
    d = (z * z).sum(1, keepdims=True) - 2.0 * z @ c.T + (c * c).sum(1)[None, :]
    return d.argmin(1)


def _embedding(ctx: RunContext) -> tuple[Callable[[torch.Tensor], np.ndarray], int]:
    """The partition's embedding of inputs (fitted on the train split) and the weights it stores."""
    from rtl_sweep.partition import embedder
    pcfg, data = ctx.cfg.partition, ctx.data
    dim = int(np.prod(data.input_shape))
    embed, extra = None, 0
    if pcfg.embedding == "dense":  # the same dense model the partition used (deterministic)
        from rtl_sweep.embedding import dense_embedding
        with torch.random.fork_rng(devices=[]):  # it seeds the global RNG; the run's stays as it was
            embed = dense_embedding(ctx.cfg, data, ctx.device)
            probe = build_model(ctx.cfg.model, data.input_shape, data.num_classes)
        extra = sum(p.numel() for n, p in probe.named_parameters() if not n.startswith("classifier."))
    elif pcfg.embedding == "pca":
        k = min(pcfg.pca_dim, dim, len(data.y_train))
        extra = k * dim + dim  # components and mean
    return embedder(pcfg, data, ctx.cfg.seed, embed), extra


def centroid_route(ctx: RunContext) -> tuple[Choose, int]:
    """The nearest-centroid routing of a run and its parameter count (centroids + embedding)."""
    embed, extra = _embedding(ctx)
    part = ctx.partition
    if part.centroids is not None:   # k-means: its own centroids
        centroids = part.centroids
    else:                            # each subset's mean training input, in the embedding
        z = embed(ctx.data.x_train)
        centroids = np.stack([z[part.train_ids == k].mean(0) for k in range(part.k)])
    return (lambda outputs, x: nearest(embed(x.cpu()), centroids)), int(centroids.size) + extra


# ---- the learned router -----------------------------------------------------------------------
def router_network(ctx: RunContext) -> torch.nn.Module:
    """The router's network, seeded: inputs -> K subset logits (router.model, router.width)."""
    r = ctx.cfg.router
    name = r.model if r.model != "auto" else ("cnn" if len(ctx.data.input_shape) == 3 else "mlp")
    with torch.random.fork_rng(devices=[]):  # its own seed; the run's global RNG stays untouched
        torch.manual_seed(derive_seed(ctx.cfg.seed, "router-init"))
        return build_model(ModelConfig(name=name, width=r.width), ctx.data.input_shape, ctx.K).to(ctx.device)


def run_router(ctx: RunContext, store: Store, rel: str) -> None:
    """The router unit: train the router on the TRAINING split's inputs and subset ids, write its
    weights to `rel`. Test labels and test subset ids are never read."""
    module = router_network(ctx)
    model = TicketModel(module, [])
    params, bufs = new_state(dict(module.named_parameters()), dict(module.named_buffers()), ctx.device)
    target = TrainTarget("ce", torch.arange(len(ctx.partition.train_ids)),
                         targets=torch.as_tensor(ctx.partition.train_ids))
    r = ctx.cfg.router
    train(model, params, bufs, None, target, ctx.x_train, r.epochs, r.lr, ctx.cfg.prune.batch_size,
          derive_seed(ctx.cfg.seed, "router"))
    state = {n: p.detach().cpu() for n, p in params.items()}
    state.update({n: b.cpu() for n, b in bufs.items()})
    store.write_bytes(rel, tensor_bytes({"state": state}))


def learned_route(ctx: RunContext, store: Store) -> tuple[Choose, int]:
    """The trained router of a run (its checkpoint) and its parameter count."""
    if not store.exists(ROUTER_CKPT):
        raise ConfigError(f"{store.uri} has no learned router ({ROUTER_CKPT})",
                          "run it once with learned among its routes, e.g. --set "
                          "routes=[oracle,learned]: only the router is trained")
    state = tensor_load(store.read_bytes(ROUTER_CKPT))["state"]
    module = router_network(ctx)
    module.load_state_dict(state)
    model = TicketModel(module, [])
    params = {n: p.detach() for n, p in module.named_parameters()}
    bufs = {n: b for n, b in module.named_buffers()}
    count = sum(p.numel() for p in params.values())

    def choose(outputs, x):
        return predict_logits(model, params, bufs, None, x.to(ctx.device)).argmax(1).numpy()
    return choose, count


# ---- all routings -----------------------------------------------------------------------------
@dataclass
class Router:
    name: str
    params: int            # weights it stores beside the tickets
    choose: Choose
    fixed: bool            # its choice depends on the inputs only (not on the tickets' outputs)


def build_router(ctx: RunContext, store: Store, name: str) -> Router:
    """One routing of `ctx`'s run, ready to choose; the oracle is not one (it is given the ids)."""
    if name == "argmax":
        return Router(name, 0, lambda outputs, x: argmax_route(outputs), fixed=False)
    if name == "confidence":
        return Router(name, 0, lambda outputs, x: confidence_route(outputs), fixed=False)
    if name == "entropy":
        return Router(name, 0, lambda outputs, x: entropy_route(outputs), fixed=False)
    if name in ("centroid", "learned"):
        choose, params = centroid_route(ctx) if name == "centroid" else learned_route(ctx, store)
        return Router(name, params, choose, fixed=True)
    raise ValueError(f"routing {name!r} has no router")


class Routes:
    """The routings a run scores besides the oracle, each built once; the test-split choice of a
    routing that reads inputs only is computed once too."""

    def __init__(self, ctx: RunContext, store: Store):
        self.ctx, self.store = ctx, store
        self.names = routes_of(ctx.cfg)[1:]
        self._routers: dict[str, Router] = {}
        self._test: dict[str, np.ndarray] = {}

    def router(self, name: str) -> Router:
        if name not in self._routers:
            self._routers[name] = build_router(self.ctx, self.store, name)
        return self._routers[name]

    def choose_test(self, name: str, outputs: list[torch.Tensor]) -> np.ndarray:
        """Subset per test input under routing `name`, given the tickets' test outputs."""
        r = self.router(name)
        if not r.fixed:
            return r.choose(outputs, self.ctx.data.x_test)
        if name not in self._test:
            self._test[name] = r.choose(outputs, self.ctx.data.x_test)
        return self._test[name]
