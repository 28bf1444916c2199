"""Scores of an image reconstruction: PSNR (optionally inside a mask), SSIM overall and per region,
and the dead-ticket test for an INR ticket.

    python -c "from rtl_sweep.data.image import load_image; from rtl_sweep.image_metrics import *; \
import numpy as np; im = load_image('camera', 48, False); ids = (np.arange(48)[:, None] // 24).repeat(48, 1); \
print(psnr(np.clip(im + 0.01, 0, 1), im), region_ssim(np.clip(im + 0.05, 0, 1), im, ids))"

All take numpy arrays or torch tensors with values on a data range of 1.0 (images in [0, 1]).
"""

from __future__ import annotations

import numpy as np

from rtl_sweep.errors import ConfigError

# A reconstruction is constant when every channel spans less than this share of the data range.
# float32 rounding through a forward pass moves outputs of order 1 by ~1e-6; one 8-bit grey level
# is 1/255 ~ 3.9e-3. 1e-4 sits 100x above the first and ~40x below the second: a ticket that outputs
# its bias (all hidden units pruned or dead) is dead, one that draws any visible structure is not.
DEAD_TOLERANCE = 1e-4


def psnr(pred, target, data_range: float = 1.0, mask=None) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(data_range^2 / MSE), MSE over all channels of the
    pixels where `mask` is True (mask [H, W] for images [H, W, C], [N] for pixel lists [N, C]; None:
    all pixels). Identical inputs give inf, as skimage.metrics.peak_signal_noise_ratio does."""
    pred, target = _np(pred), _np(target)
    if pred.shape != target.shape:
        raise ConfigError(f"psnr: prediction {pred.shape} and target {target.shape} differ in shape",
                          "compare images of the same size")
    if mask is not None:
        mask = _np(mask).astype(bool)
        if mask.shape != pred.shape[:mask.ndim]:
            raise ConfigError(f"psnr: mask {mask.shape} does not match the pixels {pred.shape}",
                              "give one bool per pixel")
        if not mask.any():
            raise ConfigError("psnr: the mask selects no pixel", "pass a region with pixels")
        pred, target = pred[mask], target[mask]
    mse = np.mean((pred - target) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(data_range ** 2 / mse))


def region_ssim(pred, target, region_ids, channel_axis: int | None = -1) -> tuple[float, np.ndarray]:
    """(overall SSIM, per-region SSIM float64 [K]) of images [H, W, C] (channel_axis=-1) or [H, W]
    (channel_axis=None), data_range 1.0; K = region_ids.max() + 1, pixels with id -1 count nowhere.

    One structural_similarity(full=True) over the whole image; the overall value is skimage's (its
    mean leaves out a border of (win_size-1)/2 pixels, like the literature's figures); a region's
    value is the mean of the SSIM map over all its pixels (border included, else small regions at
    the edge would have none), averaged over channels. A region with no pixels gets nan.
    win_size: skimage's default 7x7 uniform window, or for images whose shorter side is under 7
    the largest odd size that fits (>= 3): SSIM needs a window inside the image.
    """
    from skimage.metrics import structural_similarity

    pred, target = _np(pred), _np(target)
    region_ids = _np(region_ids).astype(np.int64)
    if pred.shape != target.shape:
        raise ConfigError(f"region_ssim: prediction {pred.shape} and target {target.shape} "
                          "differ in shape", "compare images of the same size")
    spatial = pred.shape if channel_axis is None else np.delete(pred.shape, channel_axis)
    if tuple(spatial) != region_ids.shape:
        raise ConfigError(f"region_ssim: region ids {region_ids.shape} do not match the image "
                          f"{pred.shape}", "give one region id per pixel")
    win = min(7, min(spatial) - (1 - min(spatial) % 2))  # the largest odd size <= the shorter side
    if win < 3:
        raise ConfigError(f"region_ssim: the image {pred.shape} is too small for SSIM",
                          "use images of at least 3x3 pixels")
    overall, smap = structural_similarity(target, pred, data_range=1.0, channel_axis=channel_axis,
                                          win_size=win, full=True)
    if channel_axis is not None:
        smap = np.moveaxis(smap, channel_axis, -1).mean(axis=-1)
    k = int(region_ids.max()) + 1 if region_ids.size else 0
    labelled = region_ids >= 0
    sums = np.bincount(region_ids[labelled], smap[labelled], minlength=k)
    counts = np.bincount(region_ids[labelled], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_region = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return float(overall), per_region


def reconstruction_dead(pred_region_pixels, data_range: float = 1.0,
                        tol: float = DEAD_TOLERANCE) -> bool:
    """True when a ticket's reconstruction of its region is constant: every channel's peak-to-peak
    over the region's pixels ([N] or [N, C]) is below tol * data_range (see DEAD_TOLERANCE).
    An empty region is not judged dead (there is nothing to reconstruct)."""
    values = _np(pred_region_pixels)
    if values.size == 0:
        return False
    values = values.reshape(values.shape[0], -1)
    return bool(np.ptp(values, axis=0).max() < tol * data_range)


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, possibly on a GPU or with a graph
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    return x if x.dtype == bool else x.astype(np.float64)  # float64: MSEs near 0 keep their digits


__all__ = ["DEAD_TOLERANCE", "psnr", "reconstruction_dead", "region_ssim"]
