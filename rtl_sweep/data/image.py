"""One image for an implicit neural representation: pixels in [0, 1], their coordinates, a region map.

    python -c "from rtl_sweep.data.image import *; im = load_image('chelsea', side=64, grey=False); \
print(im.shape, im.dtype, pixel_coordinates(*im.shape[:2]).shape)"

The INR task fits ONE image: the samples are its pixels, the input is a pixel's coordinate
(`pixel_coordinates`) and the target its colour (`image.reshape(-1, C)`, same row-major order).
`load_region_map` reads a user's semantic map (ADE20K style ids) at the image's size; turning ids
into tickets is rtl_sweep.regions' job.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from rtl_sweep.errors import ConfigError, DataError

# scikit-image's bundled photographs that load without a download (eagle and the stereo pairs need
# pooch and the internet, so they are left out). Aliases such as 'cat' are skimage's own.
PHOTOGRAPHS = (
    "astronaut", "brick", "camera", "cat", "chelsea", "checkerboard", "clock", "coffee", "coins",
    "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo",
    "microaneurysms", "moon", "page", "retina", "rocket", "text",
)


def load_image(image: str, side: int | None = None, grey: bool = False) -> np.ndarray:
    """float32 [H, W, C] in [0, 1] (C = 3, or 1 for grey images and grey=True).

    `image`: a name from PHOTOGRAPHS, or a path to a PNG/JPEG (anything with a suffix or a '/' is a
    path). `side`: downscale (anti-aliased, aspect kept) so the longer side has `side` pixels; None
    keeps the full size. Transparency is composited onto white (skimage's rgba2rgb), as viewers show it.
    """
    from skimage import color, util  # skimage costs ~0.5 s to import: only INR runs pay it

    pixels = _read(image)
    if pixels.dtype == bool:  # 'horse' is a binary silhouette
        pixels = pixels.astype(np.uint8) * 255
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[-1] not in (1, 2, 3, 4):
        raise DataError(f"image {image!r} has shape {pixels.shape}, not [H, W] or [H, W, 1..4]",
                        "give a grey, RGB or RGBA picture")
    pixels = np.clip(util.img_as_float32(pixels), 0.0, 1.0)  # floats from a file may overshoot
    if pixels.shape[-1] == 4:
        pixels = color.rgba2rgb(pixels).astype(np.float32)
    elif pixels.shape[-1] == 2:  # grey + alpha: the same compositing onto white
        pixels = pixels[..., :1] * pixels[..., 1:] + (1.0 - pixels[..., 1:])
    if grey and pixels.shape[-1] == 3:
        pixels = color.rgb2gray(pixels)[..., None]
    if side is not None:
        pixels = _downscale(pixels, side, image)
    return np.ascontiguousarray(pixels, dtype=np.float32)


def pixel_coordinates(h: int, w: int) -> np.ndarray:
    """float32 [h*w, 2]: (row, col) of every pixel scaled to [-1, 1], row-major.

    Row r, column c is entry r*w + c, so `image.reshape(-1, C)` gives the matching targets.
    Column 0 runs top (-1) to bottom (+1), column 1 left (-1) to right (+1); both span [-1, 1]
    whatever the aspect (SIREN's convention), with the border pixels' centres on -1 and +1.
    A side of one pixel sits at 0.
    """
    if h < 1 or w < 1:
        raise ConfigError(f"pixel_coordinates({h}, {w}): sides must be >= 1", "pass the image's H, W")
    rows = np.linspace(-1.0, 1.0, h) if h > 1 else np.zeros(1)
    cols = np.linspace(-1.0, 1.0, w) if w > 1 else np.zeros(1)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return np.stack([rr.ravel(), cc.ravel()], axis=1).astype(np.float32)


def load_region_map(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """int64 [H, W] region ids of a PNG at the image's `shape` (H, W); 0 = unlabelled (ADE20K).

    The PNG holds one integer id per pixel: 8 or 16 bit grey (ADE20K's annotations), a palette PNG
    (Pascal VOC style: the palette index is the id), or an RGB file whose three channels are equal.
    It is resized with nearest neighbour (order=0, no anti-aliasing), so every output id is an id
    of the file: blending would invent ids on region borders. A map whose aspect ratio differs from
    the image's is refused: stretching it would move regions off their objects.
    """
    from skimage import transform

    path = Path(path).expanduser()
    if path.suffix.lower() in (".jpg", ".jpeg"):
        raise DataError(f"region map {path} is a JPEG, whose compression changes ids on borders",
                        "save the map as a PNG")
    ids = _read_file(path, _read_ids, what="region map", fix="give a single-channel PNG of ids")
    if ids.ndim == 3:
        if ids.shape[-1] == 4:
            ids = ids[..., :3]  # a fully opaque alpha channel carries no id
        if not all(np.array_equal(ids[..., 0], ids[..., c]) for c in range(1, ids.shape[-1])):
            raise DataError(f"region map {path} is a colour image, not one id per pixel",
                            "save the ids as a single-channel (grey) PNG, 0 = unlabelled")
        ids = ids[..., 0]
    if ids.dtype == bool:  # a 1-bit PNG: ids 0 and 1
        ids = ids.astype(np.uint8)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise DataError(f"region map {path} has shape {ids.shape} and dtype {ids.dtype}",
                        "save the ids as an 8 or 16 bit single-channel PNG")
    h, w = int(shape[0]), int(shape[1])
    if not _same_aspect(ids.shape, (h, w)):
        raise DataError(f"region map {path} is {ids.shape[0]}x{ids.shape[1]}, the image {h}x{w}: "
                        "their aspect ratios differ",
                        "draw the map on the same picture (any scale, same aspect)")
    if ids.shape != (h, w):
        ids = transform.resize(ids, (h, w), order=0, anti_aliasing=False, preserve_range=True,
                               mode="edge")
    return np.rint(ids).astype(np.int64)


def _read(image: str) -> np.ndarray:
    from skimage import data, io

    if image in PHOTOGRAPHS:
        return getattr(data, image)()
    path = Path(image).expanduser()
    if "/" not in image and "\\" not in image and not path.suffix and not path.is_file():
        raise DataError(f"unknown photograph {image!r}",
                        f"use one of {', '.join(PHOTOGRAPHS)}, or a path to a PNG/JPEG")
    return _read_file(path, io.imread, what="image")


def _read_ids(path: Path) -> np.ndarray:
    from PIL import Image  # Pillow (a scikit-image dependency) keeps palette indices as they are

    with Image.open(path) as im:
        return np.asarray(im)


def _read_file(path: Path, read, what: str, fix: str = "give a PNG or JPEG file") -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{what} file {path} does not exist", "check the path")
    try:
        with warnings.catch_warnings():  # imageio probes legacy plugins (DICOM...) on odd files
            warnings.simplefilter("ignore", DeprecationWarning)
            return np.asarray(read(path))
    except Exception as e:  # imageio raises many types (OSError, ValueError, its own) for bad files
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise DataError(f"{what} file {path} cannot be read as an image: {reason}",
                        fix) from None


def _downscale(pixels: np.ndarray, side: int, image: str) -> np.ndarray:
    from skimage import transform

    h, w = pixels.shape[:2]
    if side < 2:
        raise ConfigError(f"image side={side} is too small", "use side >= 2, e.g. 64")
    if side > max(h, w):
        raise ConfigError(f"image side={side} exceeds {image!r}'s longer side ({max(h, w)})",
                          f"use side <= {max(h, w)}, or none for the full size")
    if side == max(h, w):
        return pixels
    scale = side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return transform.resize(pixels, size + pixels.shape[2:], order=1, anti_aliasing=True)


def _same_aspect(a: tuple[int, ...], b: tuple[int, int]) -> bool:
    # Each grid may come from a resize that rounded its shorter side by up to half a pixel; allow
    # one pixel on each side's shorter edge (relative 1/short), so only a real mismatch is refused.
    ratio = (a[0] / a[1]) / (b[0] / b[1])
    return abs(ratio - 1.0) <= 1.0 / min(a[:2]) + 1.0 / min(b)


__all__ = ["PHOTOGRAPHS", "load_image", "load_region_map", "pixel_coordinates"]
