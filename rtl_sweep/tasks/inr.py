"""Implicit neural representations, the paper's second task: one coordinate network fits one
photograph, and each region of the image gets its own ticket, routed by where the pixel lies.

    rtl-sweep run --set task=inr
    rtl-sweep run --set task=inr --set data.image=chelsea --set partition.k=6 --set model.name=fourier_mlp
    rtl-sweep run --set task=inr --set data.image=photo.png --set partition.method=map \\
        --set data.region_map=ids.png

Samples are pixels: the input is a pixel's (row, col) scaled to [-1, 1] (not standardised: SIREN's
initialisation assumes that range), the target its colour in [0, 1], one output per channel. The
train set and the test set are the SAME pixels: an INR is scored on the image it fits. Pixels a
region map marks unlabelled (id 0) belong to no subset: they are left out of fitting and of every
score, for every method (IMP single fits the same labelled pixels).

Training is a regression (`TrainTarget` kind 'mse', no negatives): ticket k and IMP-multiple copy k
pass over region k's pixels, IMP single over all labelled pixels, each as often as
rtl_sweep/methods.py says (prune.epochs + joint.epochs per level for the baselines).

Scores, of the ROUTED reconstruction (each pixel from its region's ticket), clipped to [0, 1] as
an image is shown (clipping only moves a value towards its target in [0, 1]): PSNR with data range
1.0 over all labelled pixels and per region; SSIM (scikit-image, 7x7 window) of the image and, per
region, its SSIM map averaged inside the region. A ticket is dead (the collapse detector's
label-free trigger) when its reconstruction of its region is constant.

Defaults (config.TASK_DEFAULTS['inr']), chosen on 2 CPU cores: astronaut at side 64 (4,096 pixels)
and K = 4 SLIC regions of at least 64 pixels; SIREN width 64, depth 3 (12,288 prunable weights);
Adam 3e-4 (1e-3 spiked), 512 pixels per step; 60 + 60 epochs per level: a dense SIREN reaches
~32 dB on the whole image in 50 epochs, ~35 dB in 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from rtl_sweep.data import Dataset
from rtl_sweep.errors import ConfigError
from rtl_sweep.partition import Partition
from rtl_sweep.tasks.base import Task
from rtl_sweep.training import TrainTarget

COORDINATE_MODELS = ("siren", "fourier_mlp", "mlp")  # the others convolve images
ROUTINGS = ("regions", "map")


@dataclass
class ImageDataset(Dataset):
    """A Dataset whose samples are the labelled pixels of one image (x: coordinates [N, 2], y:
    colours [N, C]; train and test are the same tensors), plus what pictures and SSIM need."""

    image: np.ndarray = field(default=None)        # float32 [H, W, C] in [0, 1]
    region_ids: np.ndarray = field(default=None)   # int64 [H, W]: 0..K-1, -1 = unlabelled
    pixels: np.ndarray = field(default=None)       # int64 [N]: row-major index of each sample


class INR(Task):
    name = "inr"
    main_score = "psnr"
    higher_is_better = True
    main_label = "PSNR dB"
    main_format = ".2f"
    scores = ("psnr", "ssim")
    baseline_drop = 2.0  # dB: "2 points" on PSNR's own scale

    # ---- data and routing --------------------------------------------------------------------
    def load(self, cfg, device):
        from rtl_sweep.data.image import load_image, pixel_coordinates

        if cfg.data.name != "image":
            raise ConfigError(f"task=inr fits one image, not data.name={cfg.data.name!r}",
                              "use data.name=image and pick the picture with data.image")
        if cfg.data.side < 0:
            raise ConfigError(f"data.side={cfg.data.side} is negative", "use e.g. 64, or 0 for full size")
        image = load_image(cfg.data.image, cfg.data.side or None, cfg.data.grey)
        ids, names = _regions(cfg, image)
        h, w, c = image.shape
        pixels = np.flatnonzero(ids.ravel() >= 0)
        x = torch.from_numpy(pixel_coordinates(h, w)[pixels])
        y = torch.from_numpy(np.ascontiguousarray(image.reshape(-1, c)[pixels]))
        data = ImageDataset(name=cfg.data.name, x_train=x, y_train=y, x_test=x, y_test=y,
                            g_train=None, g_test=None, num_classes=0, input_shape=(2,),
                            class_names=[], image=image, region_ids=ids, pixels=pixels)
        sub = ids.ravel()[pixels]
        return data, Partition(method=cfg.partition.method, k=len(names), names=names,
                               train_ids=sub, test_ids=sub)

    def num_outputs(self, cfg, data, partition):
        return int(data.image.shape[-1])

    def build_model(self, cfg, data, num_outputs):
        if cfg.model.name not in COORDINATE_MODELS:
            raise ConfigError(f"model.name={cfg.model.name} takes images, but an INR maps pixel "
                              "coordinates to colours", f"use one of {', '.join(COORDINATE_MODELS)}")
        return super().build_model(cfg, data, num_outputs)

    # ---- training ----------------------------------------------------------------------------
    def ticket_target(self, ctx, k):
        return TrainTarget("mse", torch.from_numpy(ctx.partition.indices(k)), targets=ctx.data.y_train)

    def single_target(self, ctx):
        return TrainTarget("mse", torch.arange(len(ctx.data.y_train)), targets=ctx.data.y_train)

    # ---- scores ------------------------------------------------------------------------------
    def score_tickets(self, ctx, outputs):
        return _scores(ctx.data, ctx.partition, route(outputs, ctx.partition.test_ids))

    def score_single(self, ctx, outputs):
        return _scores(ctx.data, ctx.partition, outputs.numpy())

    def ticket_alive(self, ctx, outputs):
        """Alive while its reconstruction of its own region is not constant (outputs only)."""
        from rtl_sweep.image_metrics import reconstruction_dead
        ids = np.asarray(ctx.partition.test_ids)
        return [not reconstruction_dead(out.numpy()[ids == k]) for k, out in enumerate(outputs)]

    # ---- pictures ----------------------------------------------------------------------------
    def pictures(self, run_folder, out_dir, levels=None, shown=None):
        """inr_<run id>.png: the original and its regions, then per level (sparsity) each method's
        reconstruction beside its error map. `levels` / `shown` (method names) pick a subset."""
        import yaml
        from rtl_sweep import methods
        from rtl_sweep.config import RunConfig
        from rtl_sweep.store import Store

        src, out = Store(run_folder), Store(out_dir)
        cfg = RunConfig.from_dict(yaml.safe_load(src.read_bytes("config.yaml")))
        data, partition = self.load(cfg, torch.device("cpu"))
        rows = [r for rel in src.list("tables/rounds", ".parquet")
                for r in src.read_table(rel).to_pylist() if r["ticket"] == -1]
        have = {r["method"] for r in rows}
        shown = [m for m in (shown or methods.ORDER) if m in have]
        levels = sorted({r["level"] for r in rows} if levels is None else levels)
        sparsity = {r["level"]: r["sparsity"] for r in rows if r["method"] == methods.RTL_TICKETS.name}
        cells = {}
        for lv in levels:
            for name in shown:
                colours = _colours(src, methods.METHODS[name], lv, partition)
                if colours is not None:
                    cells[lv, name] = colours
        png = _grid(data, levels, shown, sparsity, cells)
        name = f"inr_{cfg.hash()}.png"
        out.write_bytes(name, png)
        return [out.path(name)]


def route(outputs: list[torch.Tensor], ids: np.ndarray) -> np.ndarray:
    """[N, C]: each pixel's colour from the ticket of its region (outputs[k]: ticket k, all pixels)."""
    stacked = torch.stack(outputs).numpy()
    return stacked[np.asarray(ids), np.arange(stacked.shape[1])]


def reconstruction(data: ImageDataset, colours: np.ndarray) -> np.ndarray:
    """[H, W, C] image of `colours` ([N, C], one per labelled pixel) clipped to [0, 1]; unlabelled
    pixels keep the original's colour, so they add no error to any window that touches them."""
    h, w, c = data.image.shape
    out = data.image.reshape(-1, c).copy()
    out[data.pixels] = np.clip(colours, 0.0, 1.0)
    return out.reshape(h, w, c)


def _scores(data: ImageDataset, partition: Partition, colours: np.ndarray) -> tuple[dict, list[dict]]:
    from rtl_sweep.image_metrics import psnr, region_ssim

    clipped = np.clip(colours, 0.0, 1.0)
    target = data.y_test.numpy()
    ids = np.asarray(partition.test_ids)
    overall, per_ssim = region_ssim(reconstruction(data, colours), data.image, data.region_ids)
    if (data.region_ids < 0).any():
        # skimage's value averages unlabelled pixels in; the labelled pixels' mean of the map
        # (the per-region values weighted by size) scores only what the routing covers.
        sizes = np.bincount(ids, minlength=partition.k)
        overall = float(np.nansum(per_ssim * sizes) / sizes.sum())
    per = [{"psnr": psnr(clipped[ids == k], target[ids == k]), "ssim": float(per_ssim[k])}
           for k in range(partition.k)]
    return {"psnr": psnr(clipped, target), "ssim": overall}, per


def _regions(cfg, image: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Region ids [H, W] (-1 unlabelled) and one name per region, from partition.method."""
    from rtl_sweep.regions import map_regions, slic_regions

    p = cfg.partition
    h, w = image.shape[:2]
    if p.method == "regions":
        if p.k < 2:
            raise ConfigError(f"partition.k={p.k}: a single region is one ordinary network, not "
                              "routing", "use partition.k >= 2, e.g. 4")
        if p.k > h * w:
            raise ConfigError(f"partition.k={p.k} exceeds the image's {h * w} pixels ({h}x{w})",
                              "use a smaller partition.k or a larger data.side")
        ids = slic_regions(image, p.k, cfg.seed, p.min_size)
        return ids, [f"region{i}" for i in range(int(ids.max()) + 1)]
    if p.method == "map":
        from rtl_sweep.data.image import load_region_map
        if not cfg.data.region_map:
            raise ConfigError("partition.method=map needs data.region_map",
                              "give a PNG of integer region ids (0 = unlabelled), or use "
                              "partition.method=regions")
        return map_regions(load_region_map(cfg.data.region_map, (h, w)), p.min_size)
    raise ConfigError(f"partition.method={p.method} does not route pixels",
                      f"task=inr routes by region: use one of {', '.join(ROUTINGS)}")


# ---- pictures ------------------------------------------------------------------------------------
ERROR_MAX = 0.2  # error maps share one colour scale, |error| 0 .. 0.2 of the data range, to compare


def _colours(store, m, level: int, partition: Partition) -> np.ndarray | None:
    """Method m's reconstruction colours [N, C] at `level` from its checkpoints; None if missing."""
    from rtl_sweep.checkpoints import Unit, load_unit

    if m.loop:
        units = [Unit("loop", level, m.loop, k) for k in (range(partition.k) if m.per_subset else [-1])]
    else:
        units = [Unit(m.unit, level)]
    if not all(store.exists(u.ckpt()) for u in units):
        return None
    outs = [load_unit(store, u)["logits"] for u in units]
    outs = outs[0] if isinstance(outs[0], list) else outs  # joint retraining: one file, K outputs
    return route(outs, partition.test_ids) if m.per_subset else outs[0].numpy()


def _grid(data: ImageDataset, levels, shown, sparsity, cells) -> bytes:
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rtl_sweep.image_metrics import psnr
    from rtl_sweep.methods import METHODS

    grey = data.image.shape[-1] == 1
    show = (lambda a: a[..., 0]) if grey else (lambda a: a)
    cols = max(2, 2 * len(shown))
    fig, axes = plt.subplots(1 + len(levels), cols, figsize=(1.35 * cols, 1.5 * (1 + len(levels))),
                             squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    labelled = data.region_ids >= 0
    axes[0][0].imshow(show(data.image), cmap="gray" if grey else None, vmin=0, vmax=1)
    axes[0][0].set_title("original", fontsize=8)
    regions = np.ma.masked_where(~labelled, data.region_ids)
    many = data.region_ids.max() >= 10
    axes[0][1].imshow(regions, cmap="tab20" if many else "tab10", vmin=0, vmax=19 if many else 9,
                      interpolation="nearest")
    axes[0][1].set_title(f"{int(data.region_ids.max()) + 1} regions", fontsize=8)
    cmap = plt.get_cmap("magma").with_extremes(bad="0.6")  # unlabelled pixels: grey
    err_im = None
    for i, lv in enumerate(levels, start=1):
        axes[i][0].set_ylabel(f"level {lv}\ns = {sparsity.get(lv, float('nan')):.3f}", fontsize=8)
        for j, name in enumerate(shown):
            colours = cells.get((lv, name))
            if colours is None:
                continue
            image = reconstruction(data, colours)
            error = np.abs(image - data.image).mean(-1)
            error[~labelled] = np.nan
            score = psnr(np.clip(colours, 0, 1), data.y_test.numpy())
            axes[i][2 * j].imshow(show(image), cmap="gray" if grey else None, vmin=0, vmax=1)
            axes[i][2 * j].set_title(f"{METHODS[name].label}\n{score:.1f} dB", fontsize=7)
            err_im = axes[i][2 * j + 1].imshow(error, cmap=cmap, vmin=0, vmax=ERROR_MAX)
            axes[i][2 * j + 1].set_title("|error|", fontsize=7)
    if err_im is not None:
        fig.colorbar(err_im, ax=axes[1:, :], location="right", shrink=0.5, aspect=30,
                     label=f"|error|, mean over channels (0 to {ERROR_MAX})")
    fig.suptitle("Reconstructions (each pixel from its region's ticket for per-region methods) "
                 "and error maps", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
