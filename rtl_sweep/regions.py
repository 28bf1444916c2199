"""Image regions, the INR routing table: which ticket each pixel belongs to (RTL step 1 for images).

    python -c "from rtl_sweep.data.image import load_image; from rtl_sweep.regions import *; \
import numpy as np; ids = slic_regions(load_image('astronaut', 48, False), k=4, seed=0, min_size=16); \
print(np.bincount(ids.ravel()))"

Routing is by where the pixel lies: a pixel's region id is its ticket, at training and at test time
(the paper's INR case). Two sources:
- `slic_regions`: label-free. SLIC superpixels, grouped into k regions by k-means on each
  superpixel's mean colour and mean position. A region may be several patches (two patches of sky).
- `map_regions`: the user's semantic map (ADE20K ids, 0 = unlabelled). Unlabelled pixels get -1:
  they belong to no ticket (leave them out of training and of per-region scores).
Both merge regions smaller than `min_size` pixels into a neighbour (`merge_small_regions`), so every
labelled pixel is in exactly one region and no ticket trains on a handful of pixels.
"""

from __future__ import annotations

import numpy as np

from rtl_sweep.errors import ConfigError, DataError

UNLABELLED = -1


def slic_regions(image: np.ndarray, k: int, seed: int, min_size: int = 0, *,
                 superpixels: int | None = None, compactness: float = 10.0,
                 position_weight: float = 1.0) -> np.ndarray:
    """int64 [H, W] region ids 0..K-1 for an image [H, W, C] in [0, 1]; K = k unless merging of
    regions under `min_size` pixels leaves fewer (read K as ids.max() + 1). Same seed, same ids.

    superpixels: SLIC's target count (default 8*k, so each region gathers several superpixels and
      can follow an object's outline). compactness: SLIC's colour-vs-space trade-off on the Lab
      scale (10 is skimage's advice; grey images are scaled to Lab's 0..100 so the same value fits).
    position_weight: weight of the superpixel's mean (row, col), each scaled to [0, 1], against its
      mean colour in [0, 1] in the k-means features; 0 groups by colour alone.
    Region ids are numbered by first appearance in row-major order, so they do not depend on
    k-means' internal cluster order.
    """
    from skimage.segmentation import slic
    from sklearn.cluster import KMeans

    image = _check_image(image)
    h, w, c = image.shape
    if k < 2:
        raise ConfigError(f"k={k} regions: a single region is one ordinary network, not routing",
                          "use k >= 2")
    if k > h * w:
        raise ConfigError(f"k={k} regions exceed the image's {h * w} pixels ({h}x{w})",
                          "use a smaller k or a larger image side")
    n_segments = superpixels or 8 * k
    lab_scale = 1.0 if c == 3 else 100.0  # slic converts RGB to Lab itself; grey gets Lab's range
    segments = slic(image * lab_scale, n_segments=n_segments, compactness=compactness,
                    channel_axis=-1, start_label=0, enforce_connectivity=True)
    segments = np.unique(segments, return_inverse=True)[1].reshape(h, w)  # consecutive 0..S-1
    n = int(segments.max()) + 1
    if k > n:
        raise ConfigError(f"k={k} regions exceed the {n} superpixels SLIC found in a {h}x{w} image",
                          f"use k <= {n}, or more superpixels (superpixels > {n_segments})")
    flat = segments.ravel()
    sizes = np.bincount(flat, minlength=n).astype(np.float64)
    colour = np.stack([np.bincount(flat, image[..., i].ravel(), n) for i in range(c)], 1)
    rows, cols = np.indices((h, w))
    where = np.stack([np.bincount(flat, rows.ravel() / max(h - 1, 1), n),
                      np.bincount(flat, cols.ravel() / max(w - 1, 1), n)], 1)
    features = np.hstack([colour, position_weight * where]) / sizes[:, None]
    # Weighted by pixel count: a region's centre is the mean of its pixels, not of its superpixels.
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(features, sample_weight=sizes)
    ids = km.labels_[segments].astype(np.int64)
    return _renumber(merge_small_regions(ids, min_size), first_appearance=True)


def map_regions(region_map: np.ndarray, min_size: int = 0) -> tuple[np.ndarray, list[str]]:
    """Turn a map of original ids (0 = unlabelled) into (ids [H, W], names).

    ids: int64, -1 for unlabelled pixels, 0..K-1 for the rest in the order of the original ids.
    names: 'region-<original id>' per region; a region merged into another takes that one's name.
    """
    region_map = np.asarray(region_map)
    if region_map.ndim != 2 or not np.issubdtype(region_map.dtype, np.integer):
        raise DataError(f"region map has shape {region_map.shape} and dtype {region_map.dtype}",
                        "give an integer [H, W] map, e.g. from load_region_map")
    originals, inverse = np.unique(region_map, return_inverse=True)
    inverse = inverse.reshape(region_map.shape)
    labelled = originals[originals != 0]
    if labelled.size == 0:
        raise DataError("region map has no labelled pixel (every id is 0, 'unlabelled')",
                        "label the regions with ids >= 1")
    if labelled.size < 2:
        raise DataError(f"region map has a single region (id {labelled[0]}): nothing to route",
                        "label at least two regions with different ids >= 1")
    # Original id -> 0..K-1 (sorted), 0 -> -1.
    lookup = np.where(originals == 0, UNLABELLED, np.cumsum(originals != 0) - 1)
    ids = lookup[inverse].astype(np.int64)
    merged = merge_small_regions(ids, min_size)
    kept = np.unique(merged[merged >= 0])
    names = [f"region-{labelled[i]}" for i in kept]
    return _renumber(merged), names


def merge_small_regions(ids: np.ndarray, min_size: int) -> np.ndarray:
    """Merge every region (an id, possibly in several patches) of fewer than `min_size` pixels into
    the region it shares the longest border with (4-neighbour pixel pairs); a region that touches
    no other (unlabelled pixels all round) goes to the region nearest to it. The smallest region is
    merged first, ties to the lower id; a neighbour tie goes to the lower id. -1 pixels stay -1.
    Ids keep their values (some vanish); refuses when fewer than 2 regions would remain.
    """
    if min_size < 0:
        raise ConfigError(f"min_size={min_size} is negative", "use 0 (no merging) or a pixel count")
    ids = np.array(ids, dtype=np.int64, copy=True)
    labelled = ids >= 0
    k = int(ids.max()) + 1 if labelled.any() else 0
    sizes = np.bincount(ids[labelled], minlength=k)
    while True:
        alive = np.flatnonzero(sizes)
        if alive.size < 2:
            raise DataError(f"merging regions under min_size={min_size} pixels leaves "
                            f"{alive.size} region out of {int(labelled.sum())} labelled pixels",
                            "lower min_size, or label/ask for more, larger regions")
        small = alive[sizes[alive] < min_size]
        if small.size == 0:
            return ids
        r = small[np.argmin(sizes[small])]  # argmin takes the first: the lower id on ties
        target = _longest_border(ids, r, k)
        if target < 0:
            target = _nearest_region(ids, r)
        ids[ids == r] = target
        sizes[target] += sizes[r]
        sizes[r] = 0


def _longest_border(ids: np.ndarray, r: int, k: int) -> int:
    a = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    b = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    other = np.concatenate([b[(a == r) & (b != r)], a[(b == r) & (a != r)]])
    other = other[other >= 0]
    if other.size == 0:
        return -1
    return int(np.argmax(np.bincount(other, minlength=k)))


def _nearest_region(ids: np.ndarray, r: int) -> int:
    from scipy.ndimage import distance_transform_edt

    others = (ids >= 0) & (ids != r)
    # For each pixel, the index of the nearest pixel of another region; vote over r's pixels.
    _, (ri, ci) = distance_transform_edt(~others, return_indices=True)
    mine = ids == r
    return int(np.argmax(np.bincount(ids[ri[mine], ci[mine]])))


def _renumber(ids: np.ndarray, first_appearance: bool = False) -> np.ndarray:
    """Surviving ids -> 0..K-1 in the order of their values, or of their first pixel (row-major)."""
    out = np.full(ids.shape, UNLABELLED, dtype=np.int64)
    mask = ids >= 0
    values, first, inverse = np.unique(ids[mask], return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first)) if first_appearance else np.arange(values.size)
    out[mask] = rank[inverse]
    return out


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise DataError(f"image has shape {image.shape}, not [H, W, 1] or [H, W, 3]",
                        "load it with rtl_sweep.data.image.load_image")
    return image


__all__ = ["UNLABELLED", "map_regions", "merge_small_regions", "slic_regions"]
