"""Simulated acoustic scenes for the speech task: clean utterances mixed with the noise of an
indoor, outdoor or transportation scene at a sampled SNR. The scenes are SIMULATED (TAU Urban
Acoustic Scenes cannot be downloaded here); every recipe below is a documented physical caricature:

- indoor: the utterance is placed in a shoebox room (pyroomacoustics image-source method, room
  size and wall absorption sampled) with 2-3 babble talkers (other utterances) at other positions;
  the noisy mix is the reverberant sum, the clean target the dry utterance.
- outdoor: wind (white noise low-passed at 200-500 Hz, amplitude-modulated by a slow gust envelope)
  plus a passing car (band-limited noise under a bell-shaped loudness curve) and faint birdsong
  (1.5-4 kHz chirps).
- transportation: engine (a 25-60 Hz fundamental with harmonics and slow RPM drift), broadband
  rumble (brown noise), and periodic rail clacks.

    python -c "from rtl_sweep.data.scenes import SCENES; print(SCENES)"

Every function is deterministic given its numpy Generator.
"""

from __future__ import annotations

import numpy as np

SCENES = ("indoor", "outdoor", "transportation")


def lowpass(x: np.ndarray, cutoff: float, rate: int) -> np.ndarray:
    """A brick-wall low-pass in the frequency domain (recipes only need the band, not the phase)."""
    spec = np.fft.rfft(x)
    spec[np.fft.rfftfreq(len(x), 1.0 / rate) > cutoff] = 0
    return np.fft.irfft(spec, len(x))


def bandpass(x: np.ndarray, lo: float, hi: float, rate: int) -> np.ndarray:
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / rate)
    spec[(f < lo) | (f > hi)] = 0
    return np.fft.irfft(spec, len(x))


def unit(x: np.ndarray) -> np.ndarray:
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def outdoor(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / rate
    gust = 0.5 + 0.5 * np.abs(lowpass(rng.standard_normal(n), 2.0, rate)) * 8
    wind = unit(lowpass(rng.standard_normal(n), rng.uniform(200, 500), rate)) * gust
    centre, width = rng.uniform(0, t[-1]), rng.uniform(0.2, 0.6)
    car = unit(bandpass(rng.standard_normal(n), 60, 1500, rate)) * np.exp(-((t - centre) / width) ** 2)
    birds = np.zeros(n)
    for _ in range(int(rng.integers(1, 4))):
        start, f0 = rng.uniform(0, t[-1]), rng.uniform(1500, min(4000, rate / 2.5))
        chirp = (t >= start) & (t < start + 0.08)
        birds[chirp] = np.sin(2 * np.pi * (f0 + 4000 * (t[chirp] - start)) * t[chirp])
    return unit(wind) + rng.uniform(0.3, 1.0) * unit(car) + 0.2 * birds


def transportation(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / rate
    f0 = rng.uniform(25, 60) * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    engine = sum(np.sin(h * phase) / h for h in range(1, 9))
    rumble = unit(np.cumsum(rng.standard_normal(n)) - lowpass(np.cumsum(rng.standard_normal(n)), 5, rate))
    clack = np.zeros(n)
    period = rng.uniform(0.25, 0.5)
    for s in np.arange(rng.uniform(0, period), t[-1], period):
        i = int(s * rate)
        clack[i:i + rate // 100] += rng.standard_normal(len(clack[i:i + rate // 100]))
    return unit(engine) + rng.uniform(0.5, 1.0) * rumble + 0.5 * unit(clack + 1e-9)


def indoor(clean: np.ndarray, babble: list[np.ndarray], rate: int, rng: np.random.Generator):
    """(reverberant speech, babble noise), each len(clean), from one sampled shoebox room."""
    import pyroomacoustics as pra
    dims = rng.uniform([3, 3, 2.5], [8, 6, 3.5])
    absorption, order = float(rng.uniform(0.2, 0.7)), int(rng.integers(3, 8))
    mic = rng.uniform(0.5, 1, 3) * (dims - 1) + 0.5

    def at_random(signal):  # one source per simulation: the babble is summed at the microphone
        r = pra.ShoeBox(dims, fs=rate, materials=pra.Material(absorption), max_order=order)
        r.add_microphone(mic)
        r.add_source(rng.uniform(0.5, 1, 3) * (dims - 1) + 0.5, signal=signal)
        r.simulate()
        return r.mic_array.signals[0][: len(clean)]

    speech = at_random(clean)
    noise = sum(at_random(b) for b in babble)
    return _fit(speech, len(clean)), _fit(noise, len(clean))


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return np.pad(x, (0, max(0, n - len(x))))[:n]


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """speech + noise scaled so that power(speech) / power(noise) is `snr_db`."""
    gain = np.sqrt(np.mean(speech ** 2) / (np.mean(noise ** 2) + 1e-12) / 10 ** (snr_db / 10))
    return speech + gain * noise
