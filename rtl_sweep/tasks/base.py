"""The task interface: everything about a run that depends on WHAT is learned.

    python -c "import rtl_sweep.tasks.base as b; help(b.Task)"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import torch
from torch import nn

if TYPE_CHECKING:  # type hints only: these modules stay unloaded until a run needs them
    from rtl_sweep.config import RunConfig
    from rtl_sweep.data import Dataset
    from rtl_sweep.partition import Partition
    from rtl_sweep.training import TicketModel, TrainTarget


class TaskContext(Protocol):
    """What a task reads of its run's context. rtl_sweep/context.py's RunContext is one; it is built
    from a task, so the task names only this shape and never imports the context module."""

    cfg: "RunConfig"
    data: "Dataset"
    partition: "Partition"      # the routing table: subset id of every sample
    model: "TicketModel"
    dense_params: int           # non-prunable weights of one copy
    num_outputs: int

    @property
    def K(self) -> int: ...


class Task:
    """What a run learns. The engine calls these and nothing else task-specific.

    A ticket k is the shared model seen through mask k, trained on `ticket_target(ctx, k)`; the
    single model is trained on `single_target(ctx)`. Both answer with outputs [N_test, num_outputs]
    ("logits"), from which the task computes its scores. Subclasses override what differs; the
    defaults here are the ones every task so far shares.
    """

    name: str = ""
    main_score: str = ""          # the score summaries, sweeps and advantages read
    higher_is_better: bool = True
    main_label: str = ""          # the main score in progress lines and tables ("bal.acc")
    main_format: str = ".3f"      # its format spec
    scores: tuple[str, ...] = ()  # the `rounds` columns this task fills
    # A baseline that lost more than this on the main score against its own dense model has failed
    # to train: an advantage won against it is no finding (`baseline_failed`). 2 points of a [0, 1]
    # score; a task on another scale sets its own.
    baseline_drop: float = 0.02

    # ---- data and routing --------------------------------------------------------------------
    def load(self, cfg: "RunConfig", device: torch.device) -> tuple["Dataset", "Partition"]:
        """The dataset and its routing table (subset id of every train and test sample)."""
        raise NotImplementedError

    def num_outputs(self, cfg: "RunConfig", data: "Dataset", partition: "Partition") -> int:
        raise NotImplementedError

    def build_model(self, cfg: "RunConfig", data: "Dataset", num_outputs: int) -> nn.Module:
        from rtl_sweep.models import build_model
        return build_model(cfg.model, data.input_shape, num_outputs)

    # ---- training ----------------------------------------------------------------------------
    def ticket_target(self, ctx: "TaskContext", k: int) -> "TrainTarget":
        """What ticket k (and IMP-multiple copy k) trains on: subset k's samples and the loss."""
        raise NotImplementedError

    def single_target(self, ctx: "TaskContext") -> "TrainTarget":
        """What the single model trains on: all samples."""
        raise NotImplementedError

    def dense_per_copy(self, ctx: "TaskContext") -> int:
        """Dense (non-prunable) weights one separately trained copy must keep."""
        return ctx.dense_params

    # ---- scores ------------------------------------------------------------------------------
    def score_tickets(self, ctx: "TaskContext", outputs: list[torch.Tensor]) -> tuple[dict, list[dict]]:
        """(mean scores, scores per subset) of K tickets, outputs[k] = ticket k on the test set."""
        raise NotImplementedError

    def score_single(self, ctx: "TaskContext", outputs: torch.Tensor) -> tuple[dict, list[dict]]:
        """(mean scores, scores per subset) of the single model."""
        raise NotImplementedError

    def score_routed(self, ctx: "TaskContext", outputs: list[torch.Tensor], chosen) -> dict:
        """Mean scores when test input i is answered by ticket chosen[i] (a routing other than the
        oracle, rtl_sweep/routing.py); `chosen` None: outputs[0] is a single model, not routed."""
        from rtl_sweep.errors import ConfigError
        raise ConfigError(f"task {self.name!r} scores the oracle routing only", "set routes=[oracle]")

    def ticket_alive(self, ctx: "TaskContext", outputs: list[torch.Tensor]) -> list[bool]:
        """The collapse detector's label-free trigger: False for a ticket whose answers no longer
        depend on its input. Reads outputs only, never labels."""
        raise NotImplementedError

    # ---- pictures ----------------------------------------------------------------------------
    def pictures(self, run_folder: str, out_dir: str) -> list[str]:
        """Task-specific figures for `rtl-sweep report` beside the common plots; paths written."""
        return []
