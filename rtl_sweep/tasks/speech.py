"""Speech enhancement, the paper's third task: one ticket per acoustic scene (indoor, outdoor,
transportation; K = 3), each a mask over one shared mask-estimation network.

    rtl-sweep run --set task=speech
    rtl-sweep run --set task=speech --set data.name=speech_folder --set data.path=DIR

Samples are 1 s clips: the input is the noisy waveform, the target the clean waveform, and the
model (rtl_sweep/models/mask_net.py) answers with the enhanced waveform. The routing table is the
scene of each clip (partition.method=scene; the oracle routes by scene, `learned` from the noisy
input). The default data (data.name=speech) are SIMULATED: espeak-ng speech in simulated scenes
(rtl_sweep/data/speech.py); data.name=speech_folder reads DNS/TAU-style recordings.

Training: the negative SI-SNR of output against clean (`TrainTarget` kind 'si_snr').
Scores, of the routed outputs (each clip from its scene's ticket): si_snri (main: SI-SNR of the
output minus SI-SNR of the noisy input, dB, higher is better), si_snr, and pesq / stoi where the
`pesq` / `pystoi` packages are installed (NaN otherwise).
Dead ticket (the collapse detector's label-free trigger, outputs and inputs only): its outputs on
its scene's clips are near-silence (RMS under 1% of the input's) or the input unchanged (SI-SNR of
output against the noisy input above 40 dB: the mask is 1 everywhere).
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

SOURCES = ("speech", "speech_folder")
SILENT_RMS = 0.01      # output RMS / input RMS under this: near-silence
UNCHANGED_DB = 40.0    # SI-SNR(output, noisy input) over this: the input passed through


@dataclass
class SpeechDataset(Dataset):
    rate: int = 8000
    snr_test: np.ndarray = field(default=None)


class Speech(Task):
    name = "speech"
    main_score = "si_snri"
    higher_is_better = True
    main_label = "SI-SNRi dB"
    main_format = ".2f"
    scores = ("si_snri", "si_snr", "pesq", "stoi")
    baseline_drop = 1.0  # dB of SI-SNRi

    # ---- data and routing --------------------------------------------------------------------
    def load(self, cfg, device):
        from rtl_sweep.data import speech
        from rtl_sweep.data.scenes import SCENES

        if cfg.data.name not in SOURCES:
            raise ConfigError(f"task=speech enhances audio clips, not data.name={cfg.data.name!r}",
                              "use data.name=speech (generated) or speech_folder with data.path=DIR")
        if cfg.partition.method != "scene":
            raise ConfigError(f"partition.method={cfg.partition.method} does not route clips",
                              "task=speech routes by acoustic scene: use partition.method=scene")
        if cfg.data.name == "speech":
            per_scene = cfg.data.max_per_class or 80  # 80 clips a scene: the default's 5-minute budget
            clips, rate = speech.generated(per_scene, cfg.seed, cfg.data.data_dir), speech.RATE
        else:
            if not cfg.data.path:
                raise ConfigError("data.name=speech_folder needs data.path", "give the folder holding "
                                  "clean/ and noise/<scene>/ with data.path=DIR")
            clips, rate = speech.folder(cfg.data.path, cfg.seed, cfg.data.max_per_class)
        test = _split(clips["scene"], cfg.data.test_fraction, cfg.seed)
        tr, te = ~test, test
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
        data = SpeechDataset(name=cfg.data.name, x_train=t(clips["noisy"][tr]), y_train=t(clips["clean"][tr]),
                             x_test=t(clips["noisy"][te]), y_test=t(clips["clean"][te]),
                             g_train=None, g_test=None, num_classes=0,
                             input_shape=(clips["noisy"].shape[1],), class_names=list(SCENES),
                             rate=rate, snr_test=clips["snr"][te])
        return data, Partition(method="scene", k=len(SCENES), names=list(SCENES),
                               train_ids=clips["scene"][tr], test_ids=clips["scene"][te])

    def num_outputs(self, cfg, data, partition):
        return int(data.input_shape[0])

    def build_model(self, cfg, data, num_outputs):
        if cfg.model.name != "mask_net":
            raise ConfigError(f"model.name={cfg.model.name} does not map waveforms to waveforms",
                              "task=speech uses model.name=mask_net")
        if cfg.model.width < 1:
            raise ConfigError(f"model.width={cfg.model.width} must be >= 1", "use e.g. model.width=16")
        from rtl_sweep.models.mask_net import MaskNet
        return MaskNet(tuple(data.input_shape), num_outputs, width=cfg.model.width)

    # ---- training ----------------------------------------------------------------------------
    def ticket_target(self, ctx, k):
        return TrainTarget("si_snr", torch.from_numpy(ctx.partition.indices(k)), targets=ctx.data.y_train)

    def single_target(self, ctx):
        return TrainTarget("si_snr", torch.arange(len(ctx.data.y_train)), targets=ctx.data.y_train)

    # ---- scores ------------------------------------------------------------------------------
    def score_tickets(self, ctx, outputs):
        return self.score_single(ctx, route(outputs, ctx.partition.test_ids))

    def score_single(self, ctx, outputs):
        return scores(ctx.data, np.asarray(ctx.partition.test_ids), torch.as_tensor(outputs), ctx.partition.k)

    def score_routed(self, ctx, outputs, chosen):
        if chosen is None:
            return self.score_single(ctx, outputs[0])[0]
        return self.score_single(ctx, route(outputs, chosen))[0]

    def ticket_alive(self, ctx, outputs):
        ids = np.asarray(ctx.partition.test_ids)
        return [alive(out[torch.from_numpy(ids == k)], ctx.data.x_test[torch.from_numpy(ids == k)])
                for k, out in enumerate(outputs)]

    # ---- pictures ----------------------------------------------------------------------------
    def pictures(self, run_folder, out_dir):
        """speech_<run id>.png: per scene (rows), the spectrograms of one test clip noisy, clean and
        as each method outputs it at the run's sparsest level; and the same clips as wav files
        (speech_<run id>/<scene>_<method>.wav) to listen to."""
        import io

        import soundfile as sf
        import yaml

        from rtl_sweep import methods
        from rtl_sweep.config import RunConfig
        from rtl_sweep.store import Store

        src, out = Store(run_folder), Store(out_dir)
        cfg = RunConfig.from_dict(yaml.safe_load(src.read_bytes("config.yaml")))
        data, partition = self.load(cfg, torch.device("cpu"))
        rows = [r for rel in src.list("tables/rounds", ".parquet")
                for r in src.read_table(rel).to_pylist() if r["ticket"] == -1]
        level = max(r["level"] for r in rows)
        ids = np.asarray(partition.test_ids)
        clip = [int(np.flatnonzero(ids == k)[0]) for k in range(partition.k)]
        columns = {"noisy": data.x_test.numpy(), "clean": data.y_test.numpy()}
        for name in methods.ORDER:
            waves = _outputs(src, methods.METHODS[name], level, partition)
            if waves is not None:
                columns[methods.METHODS[name].label] = waves
        for k, i in enumerate(clip):
            for col, waves in columns.items():
                buf = io.BytesIO()
                sf.write(buf, waves[i], data.rate, format="WAV")
                slug = "_".join("".join(ch if ch.isalnum() else " " for ch in col.lower()).split())
                rel = f"speech_{cfg.hash()}/{partition.names[k]}_{slug}.wav"
                out.write_bytes(rel, buf.getvalue())
        png = _spectrograms(columns, clip, partition.names, data.rate, level)
        out.write_bytes(f"speech_{cfg.hash()}.png", png)
        return [out.path(f"speech_{cfg.hash()}.png")]  # the wav folder sits beside it


def _outputs(store, m, level: int, partition) -> np.ndarray | None:
    """Method m's output waveforms [N_test, L] at `level` (per-scene methods routed by scene)."""
    from rtl_sweep.checkpoints import Unit, load_unit

    if m.loop:
        units = [Unit("loop", level, m.loop, k) for k in (range(partition.k) if m.per_subset else [-1])]
    else:
        units = [Unit(m.unit, level)]
    if not all(store.exists(u.ckpt()) for u in units):
        return None
    outs = [load_unit(store, u)["logits"] for u in units]
    outs = outs[0] if isinstance(outs[0], list) else outs
    return (route(outs, partition.test_ids) if m.per_subset else outs[0]).numpy()


def _spectrograms(columns: dict, clip: list[int], names: list[str], rate: int, level: int) -> bytes:
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(clip), len(columns), figsize=(1.8 * len(columns), 1.6 * len(clip)),
                             squeeze=False)
    for r, i in enumerate(clip):
        for c, (col, waves) in enumerate(columns.items()):
            ax = axes[r][c]
            # a silent bin (zero padding, a dead ticket) is -inf dB: drawn in the floor colour
            with np.errstate(divide="ignore"):
                ax.specgram(waves[i], NFFT=128, Fs=rate, noverlap=64, cmap="magma", vmin=-120, vmax=-20)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(col, fontsize=7)
            if c == 0:
                ax.set_ylabel(names[r], fontsize=8)
    fig.suptitle(f"Spectrograms of one test clip per scene (SIMULATED scenes), level {level}", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def route(outputs: list[torch.Tensor], chosen) -> torch.Tensor:
    """[N, L]: clip i from ticket chosen[i] (outputs[k]: ticket k on every test clip)."""
    stacked = torch.stack(list(outputs))
    return stacked[torch.as_tensor(np.asarray(chosen)), torch.arange(stacked.shape[1])]


def alive(out: torch.Tensor, noisy: torch.Tensor) -> bool:
    from rtl_sweep.audio_metrics import si_snr
    if len(out) == 0:
        return True
    silent = out.pow(2).mean().sqrt() < SILENT_RMS * noisy.pow(2).mean().sqrt()
    unchanged = si_snr(out, noisy).mean() > UNCHANGED_DB
    return not bool(silent or unchanged)


def scores(data, ids: np.ndarray, est: torch.Tensor, k: int) -> tuple[dict, list[dict]]:
    from rtl_sweep.audio_metrics import pesq_stoi, si_snr
    est = est.detach().float()
    out_db = si_snr(est, data.y_test)
    in_db = si_snr(data.x_test, data.y_test)

    def of(sel):
        d = {"si_snri": float((out_db[sel] - in_db[sel]).mean()), "si_snr": float(out_db[sel].mean())}
        ref = data.y_test[sel].numpy().astype(np.float64)
        d.update(pesq_stoi(est[sel].numpy().astype(np.float64), ref, data.rate))
        return d

    per = [of(torch.from_numpy(ids == j)) for j in range(k)]
    return of(torch.ones(len(ids), dtype=torch.bool)), per


def _split(scene: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Test mask: `fraction` of each scene's clips (at least one), drawn from `seed`."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(scene), bool)
    for s in np.unique(scene):
        idx = np.flatnonzero(scene == s)
        test[rng.choice(idx, max(1, int(round(fraction * len(idx)))), replace=False)] = True
    return test
