"""The 'dense' k-means space: features of a dense model trained on the labels.

    rtl-sweep run --set partition.method=kmeans --set partition.k=6 --set partition.embedding=dense
"""

from __future__ import annotations

import numpy as np
import torch

from rtl_sweep.config import RunConfig
from rtl_sweep.data import Dataset
from rtl_sweep.models import build_model
from rtl_sweep.training import TicketModel, TrainTarget, derive_seed, new_state, train


def dense_embedding(cfg: RunConfig, data: Dataset, dev: torch.device):
    """A function from inputs to the penultimate features of a dense model trained on all labels
    for prune.epochs (its own seeds, so the run's shared init is unaffected)."""
    torch.manual_seed(derive_seed(cfg.seed, "embed-init"))
    module = build_model(cfg.model, data.input_shape, data.num_classes).to(dev)
    model = TicketModel(module, [])
    params, bufs = new_state(dict(module.named_parameters()), dict(module.named_buffers()), dev)
    x = data.x_train.to(dev)
    target = TrainTarget("ce", torch.arange(len(data.y_train)), targets=data.y_train)
    train(model, params, bufs, None, target, x, cfg.prune.epochs, cfg.prune.lr, cfg.prune.batch_size,
          derive_seed(cfg.seed, "embed"))

    module.load_state_dict({**{n: p.detach() for n, p in params.items()}, **bufs})
    module.eval()

    @torch.no_grad()
    def embed(xs: torch.Tensor) -> np.ndarray:
        return torch.cat([module.features(xs[i:i + 2048].to(dev)).cpu()
                          for i in range(0, len(xs), 2048)]).numpy()

    return embed
