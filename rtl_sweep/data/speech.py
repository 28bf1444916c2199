"""The speech task's clips: (noisy, clean, scene) at one sample rate, 1 s each.

    python -c "from rtl_sweep.data.speech import generated; c = generated(30, 0); print(c['noisy'].shape)"

Two sources:
- generated (data.name=speech): espeak-ng utterances (rtl_sweep/data/voice.py) mixed into the
  simulated scenes of rtl_sweep/data/scenes.py at SNRs drawn uniformly in [-5, 5] dB, at 8 kHz.
  Cached under data.data_dir/speech/<recipe hash>.npz (written atomically): espeak-ng is not
  bit-repeatable, so the first generation of a recipe is the one every later run reads.
- a folder (data.name=speech_folder, data.path=DIR): DIR/clean/*.wav (e.g. DNS Challenge clean
  speech) and DIR/noise/<scene>/*.wav (e.g. TAU Urban Acoustic Scenes, one folder per scene), mono,
  all at one sample rate, read with soundfile. Each clean file is cut to 1 s and mixed with a
  random 1 s segment of a random noise file of the scene it is dealt to (clean files are dealt to
  scenes in turn), at an SNR in [-5, 5] dB.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from rtl_sweep.data.scenes import SCENES, indoor, mix, outdoor, transportation
from rtl_sweep.errors import ConfigError, DataError

RATE = 8000
SECONDS = 1.0
SNR_DB = (-5.0, 5.0)
RECIPE_VERSION = 1  # bump when a recipe changes: old caches are then not read


def _clip(x: np.ndarray, n: int) -> np.ndarray:
    """The middle n samples of x (zero-padded at the end if shorter)."""
    if len(x) >= n:
        start = (len(x) - n) // 2
        return x[start:start + n]
    return np.pad(x, (0, n - len(x)))


def _scale(noisy: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = 0.9 / (np.abs(noisy).max() + 1e-9)  # one gain for both: the pair stays consistent
    return (noisy * g).astype(np.float32), (clean * g).astype(np.float32)


def generated(per_scene: int, seed: int, cache_dir: str | None = None) -> dict:
    """{noisy, clean: float32 [N, RATE], scene: int64 [N], snr: float32 [N]} for per_scene clips of
    each scene, generated from `seed` (or read from the cache)."""
    recipe = {"v": RECIPE_VERSION, "per_scene": per_scene, "seed": seed, "rate": RATE}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    store = None
    if cache_dir:
        from rtl_sweep.store import Store
        store = Store(str(Path(cache_dir).expanduser() / "speech"))
        if store.exists(f"{key}.npz"):
            with np.load(io.BytesIO(store.read_bytes(f"{key}.npz"))) as z:
                return {k: z[k] for k in z.files}
    from scipy.signal import resample_poly

    from rtl_sweep.data.voice import RATE as VOICE_RATE
    from rtl_sweep.data.voice import synthesize, utterances

    n = int(RATE * SECONDS)
    rng = np.random.default_rng(seed)
    speech = [_clip(resample_poly(synthesize(*u), RATE, VOICE_RATE), n)
              for u in utterances(per_scene * len(SCENES) * 2, seed)]
    cleans, babble = speech[: per_scene * len(SCENES)], speech[per_scene * len(SCENES):]
    out = {"noisy": [], "clean": [], "scene": [], "snr": []}
    for i, clean in enumerate(cleans):
        k = i % len(SCENES)
        if SCENES[k] == "indoor":
            talkers = [babble[j] for j in rng.choice(len(babble), int(rng.integers(2, 4)), replace=False)]
            _, noise = indoor(clean, talkers, RATE, rng)
        elif SCENES[k] == "outdoor":
            noise = outdoor(n, RATE, rng)
        else:
            noise = transportation(n, RATE, rng)
        snr = rng.uniform(*SNR_DB)
        noisy, target = _scale(mix(clean, noise, snr), clean)
        for name, v in (("noisy", noisy), ("clean", target), ("scene", k), ("snr", snr)):
            out[name].append(v)
    arrays = {"noisy": np.stack(out["noisy"]), "clean": np.stack(out["clean"]),
              "scene": np.asarray(out["scene"], np.int64), "snr": np.asarray(out["snr"], np.float32)}
    if store is not None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        store.write_bytes(f"{key}.npz", buf.getvalue())
    return arrays


def _read(path: Path, rate: int | None) -> tuple[np.ndarray, int]:
    import soundfile as sf
    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError on a broken file
        raise DataError(f"{path} is not a readable audio file ({e.__class__.__name__})",
                        "re-export it as a PCM wav, or remove it from the folder")
    if x.shape[1] != 1:
        raise DataError(f"{path} has {x.shape[1]} channels; the speech task reads mono",
                        "mix it down to one channel (e.g. sox in.wav -c 1 out.wav) or remove it")
    if rate is not None and sr != rate:
        raise DataError(f"{path} is at {sr} Hz but the folder's first clean file is at {rate} Hz",
                        "resample every file to one rate (e.g. sox in.wav -r 16000 out.wav)")
    return x[:, 0], sr


def folder(path: str, seed: int, limit: int = 0) -> tuple[dict, int]:
    """(clips as from `generated`, sample rate) from a clean/ + noise/<scene>/ folder."""
    root = Path(path).expanduser()
    clean_dir = root / "clean"
    if not clean_dir.is_dir():
        raise DataError(f"{clean_dir} does not exist", "put the clean speech wav files in DIR/clean/ "
                        "and the noise in DIR/noise/<scene>/ (data.path=DIR)")
    cleans = sorted(clean_dir.glob("*.wav"))
    if not cleans:
        raise DataError(f"{clean_dir} holds no .wav files", "add clean speech wav files to it")
    noises = {}
    for scene in SCENES:
        d = root / "noise" / scene
        if not d.is_dir():
            raise DataError(f"{d} does not exist", f"make one folder per scene under {root / 'noise'}: "
                            f"{', '.join(SCENES)}")
        noises[scene] = sorted(d.glob("*.wav"))
        if not noises[scene]:
            raise DataError(f"scene {scene!r} is empty: {d} holds no .wav files",
                            "add noise recordings of that scene to it")
    if limit:
        cleans = cleans[: limit * len(SCENES)]
    first, rate = _read(cleans[0], None)
    n = int(rate * SECONDS)
    # Read and check every file before anything is mixed: a bad file is named before any work.
    speech = [_clip(first, n)] + [_clip(_read(p, rate)[0], n) for p in cleans[1:]]
    noise = {s: [_read(p, rate)[0] for p in files] for s, files in noises.items()}
    rng = np.random.default_rng(seed)
    out = {"noisy": [], "clean": [], "scene": [], "snr": []}
    for i, clean in enumerate(speech):
        k = i % len(SCENES)
        rec = noise[SCENES[k]][int(rng.integers(len(noise[SCENES[k]])))]
        rec = np.tile(rec, int(np.ceil(n / max(len(rec), 1))) + 1)
        start = int(rng.integers(0, len(rec) - n + 1))
        snr = rng.uniform(*SNR_DB)
        noisy, target = _scale(mix(clean, rec[start:start + n], snr), clean)
        for name, v in (("noisy", noisy), ("clean", target), ("scene", k), ("snr", snr)):
            out[name].append(v)
    return {"noisy": np.stack(out["noisy"]), "clean": np.stack(out["clean"]),
            "scene": np.asarray(out["scene"], np.int64), "snr": np.asarray(out["snr"], np.float32)}, rate
