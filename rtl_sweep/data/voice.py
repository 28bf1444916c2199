"""Clean speech from espeak-ng (the `espeakng-loader` wheel bundles the library and its voices):
the speech task's clean utterances when no recorded speech is given.

    python -c "from rtl_sweep.data.voice import synthesize; print(synthesize('hello there', 'en+f2').shape)"

espeak-ng is a formant synthesizer: its speech is intelligible but far more regular than recorded
speech, so scores measured on it are not comparable with scores on DNS Challenge speech.
Synthesis is NOT bit-repeatable: espeak-ng adds its own aspiration noise (measured: two processes
give the same length and different samples, and seeding libc's rand() does not fix it), so the
speech task generates its corpus once per config hash and reads it from that cache afterwards.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from rtl_sweep.errors import ConfigError

RATE = 22050                      # espeak-ng's output sample rate (Hz)
AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_RATE, ESPEAK_PITCH = 1, 3  # espeak_PARAMETER ids

VOICES = ["en+f1", "en+f2", "en+f3", "en+f4", "en+f5", "en+m1", "en+m2", "en+m3", "en+m4",
          "en+m5", "en+m6", "en+m7", "de", "fr", "es", "it"]
WORDS = ("the a one two three red green blue house river morning evening train station window "
         "garden coffee letter music market winter summer street bright quiet small large open "
         "closed walks runs reads sings calls waits turns leaves brings finds keeps near after "
         "before under over again today always never quickly slowly north south paper stone").split()

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_lock = threading.Lock()
_lib = None
_chunks: list[np.ndarray] = []


def _engine():
    global _lib
    if _lib is not None:
        return _lib
    try:
        import espeakng_loader
    except ImportError:
        raise ConfigError("task=speech synthesizes its clean speech with espeak-ng, and the "
                          "espeakng-loader package is not installed",
                          "pip install espeakng-loader, or give recorded speech with data.path")
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
    if rate != RATE:
        raise ConfigError(f"espeak-ng did not start (it answered {rate})",
                          "reinstall espeakng-loader, or give recorded speech with data.path")

    def collect(wav, n, events):
        if n > 0:
            _chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    lib._collect = _CALLBACK(collect)  # keep a reference: ctypes frees an unreferenced callback
    lib.espeak_SetSynthCallback(lib._collect)
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    _lib = lib
    return lib


def synthesize(text: str, voice: str = "en+f2", rate: int = 170, pitch: int = 50) -> np.ndarray:
    """float32 mono speech at RATE Hz in [-1, 1] (words per minute `rate`, pitch 0..99)."""
    with _lock:  # one engine per process, and its callback fills a module-level buffer
        lib = _engine()
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ConfigError(f"espeak-ng has no voice {voice!r}", f"use one of {', '.join(VOICES)}")
        lib.espeak_SetParameter(ESPEAK_RATE, rate, 0)
        lib.espeak_SetParameter(ESPEAK_PITCH, pitch, 0)
        _chunks.clear()
        raw = text.encode()
        lib.espeak_Synth(raw, len(raw) + 1, 0, POS_CHARACTER, 0, 0, None, None)
        lib.espeak_Synchronize()
        samples = np.concatenate(_chunks) if _chunks else np.zeros(0, np.int16)
        _chunks.clear()
    return samples.astype(np.float32) / 32768.0


def utterances(n: int, seed: int) -> list[tuple[str, str, int, int]]:
    """n (sentence, voice, rate, pitch) drawn from `seed`: the clean corpus's recipe."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(3, 7)))
        out.append((" ".join(words), str(rng.choice(VOICES)), int(rng.integers(140, 200)),
                    int(rng.integers(25, 75))))
    return out
