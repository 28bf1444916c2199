"""Speech-enhancement scores: SI-SNR (differentiable, the training loss too), and PESQ / STOI
through the `pesq` and `pystoi` packages where installed.

    python -c "import torch; from rtl_sweep.audio_metrics import si_snr; x = torch.randn(1, 800); print(si_snr(2 * x, x))"

SI-SNR (Le Roux et al., 2019): both signals made zero-mean, s_target = <est, ref> ref / |ref|^2,
e = est - s_target, SI-SNR = 10 log10(|s_target|^2 / |e|^2). It ignores the output's gain, which is
why a mask network can be trained on it directly.
"""

from __future__ import annotations

import math

import numpy as np
import torch

EPS = 1e-8


def si_snr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """SI-SNR in dB of each row of est [B, L] against ref [B, L] -> [B]."""
    est = est - est.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    s = (est * ref).sum(-1, keepdim=True) / ((ref * ref).sum(-1, keepdim=True) + EPS) * ref
    e = est - s
    return 10 * torch.log10(((s * s).sum(-1) + EPS) / ((e * e).sum(-1) + EPS))


def pesq_stoi(est: np.ndarray, ref: np.ndarray, rate: int) -> dict:
    """Mean PESQ (narrow-band at 8 kHz, wide-band at 16 kHz) and STOI of rows; NaN where the
    package is missing or a clip has no utterance PESQ can find."""
    out = {"pesq": math.nan, "stoi": math.nan}
    try:
        from pesq import pesq
        vals = []
        for e, r in zip(est, ref):
            try:
                vals.append(pesq(rate, r, e, "nb" if rate == 8000 else "wb"))
            except Exception:  # pesq raises on silence (NoUtterancesError): no score, not a crash
                vals.append(math.nan)
        out["pesq"] = float(np.nanmean(vals)) if not np.isnan(vals).all() else math.nan
    except ImportError:
        pass
    try:
        from pystoi import stoi
        out["stoi"] = float(np.mean([stoi(r, e, rate) for e, r in zip(est, ref)]))
    except ImportError:
        pass
    return out
