"""The paper's protocols as ready run configs (rtl_sweep/resources/paper_cifar10.yaml, paper_cifar100.yaml).

    python -m pytest tests/test_paper_configs.py -q

Each config loads and validates, schedules exactly 25 / 50 / 75% sparsity, and a SHORT run on
stand-in data of CIFAR's shape (3x32x32, fixed random pixels, 5 images per class, class names as
labels so the cifar100_paper grouping resolves) finishes two levels with masks on the schedule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import rtl_sweep
from rtl_sweep.config import RunConfig
from rtl_sweep.engine import Run
from rtl_sweep.partition import NAMED_GROUPS
from rtl_sweep.pruning import kept

RESOURCES = Path(rtl_sweep.__file__).parent / "resources"
PAPER = {"paper_cifar10": (10, 320, 10), "paper_cifar100": (8, 256, 100)}  # K, batch, classes


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_config_loads(name):
    cfg = RunConfig.load(RESOURCES / f"{name}.yaml").validate()
    K, batch, _ = PAPER[name]
    assert cfg.model.name == "ghostnet" and cfg.protocol == "ovr"
    assert cfg.prune.lr == cfg.joint.lr == 1.0e-4 and cfg.prune.batch_size == batch
    assert cfg.prune.epochs == cfg.joint.epochs == 10
    from rtl_sweep.models.ghostnet import TruncatedGhostNet
    m = TruncatedGhostNet((3, 32, 32), K)
    total = sum(dict(m.named_parameters())[n].numel() for n in m.prunable_names())
    from rtl_sweep.pruning import kept_schedule
    sched = kept_schedule(total, cfg.prune.mode, cfg.prune.fraction, cfg.prune.count,
                          cfg.prune.target_sparsity)
    assert [1 - k / total for k in sched] == [0.0, 0.25, 0.5, 0.75]


def _stand_in(path: Path, classes: int, per_class: int = 5) -> Path:
    rng = np.random.default_rng(0)
    if classes == 100:
        labels = np.array(sorted(c for g in NAMED_GROUPS["cifar100_paper"] for c in g))
    else:
        labels = np.arange(classes)
    y = np.repeat(labels, per_class)
    x = rng.integers(0, 256, size=(len(y), 3, 32, 32)).astype(np.float32)
    np.savez(path, X=x, y=y)
    return path


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_config_short_run(name, tmp_path):
    K, _, classes = PAPER[name]
    data = _stand_in(tmp_path / "standin.npz", classes)
    cfg = RunConfig.load(RESOURCES / f"{name}.yaml", [
        "data.name=file", f"data.path={data}", "prune.epochs=1", "joint.epochs=1",
        "prune.batch_size=16", "baselines=imp_single"])
    run = Run(cfg, str(tmp_path / "runs"), device="cpu")
    assert run.ctx.K == K
    out = run.execute(stop=lambda rec: rec["level"] >= 1)   # dense + 25%: two levels
    assert [r["level"] for r in out["records"]] == [0, 1]
    total = run.ctx.total_prunable
    for k in range(K):
        for level in (0, 1):
            ck = torch.load(Path(run.store.path()) / f"ckpt/rtl-{k}/L{level}.pt", weights_only=True)
            assert kept(ck["mask"]) == total - level * cfg.prune.count
            assert kept(ck["next_mask"]) == total - (level + 1) * cfg.prune.count
    rtl = out["records"][1]["rtl"]
    assert rtl["sparsity"] == pytest.approx(0.25)
