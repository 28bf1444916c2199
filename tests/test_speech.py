"""task=speech on small generated audio: SI-SNR by hand, scene routing, a ticket's mask during
joint retraining, determinism from the cache, the dead-ticket rule, and the folder refusals.

    PYTHONPATH=. python -m pytest -q tests/test_speech.py
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from rtl_sweep.audio_metrics import si_snr
from rtl_sweep.config import RunConfig
from rtl_sweep.context import build_context
from rtl_sweep.data import speech
from rtl_sweep.errors import DataError
from rtl_sweep.joint import joint_retrain
from rtl_sweep.tasks.speech import alive, route
from tests.test_joint import StepRecorder, _random_masks

TINY = ["task=speech", "data.max_per_class=4", "prune.epochs=1", "joint.epochs=1", "prune.batch_size=4"]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    cfg = RunConfig().with_overrides(TINY + [f"data.data_dir={cache}"])
    return build_context(cfg, torch.device("cpu"))


def test_si_snr_matches_a_hand_computation():
    ref = np.array([1.0, -2.0, 3.0, 0.0])
    est = np.array([2.0, -3.0, 7.0, 1.0])
    r, e = ref - ref.mean(), est - est.mean()
    s = (e @ r) / (r @ r) * r
    hand = 10 * math.log10((s @ s) / ((e - s) @ (e - s)))
    got = si_snr(torch.tensor(est)[None], torch.tensor(ref)[None])
    assert abs(float(got[0]) - hand) < 1e-4 * abs(hand)
    assert float(si_snr(torch.tensor(3 * ref)[None], torch.tensor(ref)[None])[0]) > 60  # gain is ignored


def test_every_scene_is_routed_and_each_clip_answered_by_its_scenes_ticket(ctx):
    p = ctx.partition
    assert p.names == ["indoor", "outdoor", "transportation"] and ctx.K == 3
    for ids in (p.train_ids, p.test_ids):
        assert sorted(np.unique(ids)) == [0, 1, 2]
    n = len(p.test_ids)
    outputs = [torch.full((n, 5), float(k)) for k in range(3)]
    routed = route(outputs, p.test_ids)
    assert torch.equal(routed[:, 0], torch.as_tensor(p.test_ids, dtype=torch.float32))


def test_a_tickets_steps_stay_inside_its_mask_in_joint_retraining(ctx):
    masks = _random_masks(ctx, (0.4, 0.4, 0.4), disjoint=True)
    rec = StepRecorder(ctx.model, masks)
    params, _ = joint_retrain(dataclasses.replace(ctx, model=rec), masks, level=1)
    rec.close(params)
    assert {k for k, _ in rec.steps} == {0, 1, 2}
    for k, changed in rec.steps:
        assert not any(bool((changed[n] & ~masks[k][n]).any()) for n in ctx.model.prunable)


def test_generation_is_cached_and_the_cache_is_what_later_runs_read(tmp_path):
    a = speech.generated(2, seed=3, cache_dir=str(tmp_path))
    b = speech.generated(2, seed=3, cache_dir=str(tmp_path))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len(list((tmp_path / "speech").glob("*.npz"))) == 1
    assert a["noisy"].shape == (6, speech.RATE) and np.abs(a["noisy"]).max() <= 0.9 + 1e-6
    assert not np.array_equal(a["noisy"], a["clean"])


def test_dead_tickets_are_silence_or_the_input_passed_through():
    g = torch.Generator().manual_seed(0)
    noisy = torch.randn(4, 800, generator=g)
    assert not alive(1e-4 * noisy, noisy)
    assert not alive(noisy.clone(), noisy)
    assert alive(0.5 * noisy + torch.randn(4, 800, generator=g), noisy)


def _folder(root, rate=8000, channels=1, scenes=("indoor", "outdoor", "transportation")):
    rng = np.random.default_rng(0)
    (root / "clean").mkdir(parents=True)
    for i in range(3):
        sf.write(root / "clean" / f"c{i}.wav", rng.standard_normal((rate, channels)) * 0.1, rate)
    for s in scenes:
        (root / "noise" / s).mkdir(parents=True)
        sf.write(root / "noise" / s / "n.wav", rng.standard_normal(rate // 2) * 0.1, rate)
    return root


def test_a_folder_of_wav_files_gives_one_clip_per_clean_file(tmp_path):
    clips, rate = speech.folder(str(_folder(tmp_path / "ok")), seed=0)
    assert rate == 8000 and clips["noisy"].shape == (3, 8000)
    assert list(clips["scene"]) == [0, 1, 2]


def test_bad_folders_are_one_clear_line_each_naming_the_file(tmp_path):
    cases = {"missing": (tmp_path / "nowhere", "clean does not exist")}
    _folder(tmp_path / "empty", scenes=("indoor", "outdoor"))
    (tmp_path / "empty" / "noise" / "transportation").mkdir()
    cases["empty"] = (tmp_path / "empty", "scene 'transportation' is empty")
    stereo = _folder(tmp_path / "stereo")
    sf.write(stereo / "clean" / "c1.wav", np.zeros((8000, 2)), 8000)
    cases["stereo"] = (stereo, "c1.wav has 2 channels")
    rate = _folder(tmp_path / "rate")
    sf.write(rate / "noise" / "outdoor" / "n.wav", np.zeros(16000), 16000)
    cases["rate"] = (rate, "n.wav is at 16000 Hz")
    broken = _folder(tmp_path / "broken")
    (broken / "clean" / "c2.wav").write_bytes(b"not audio")
    cases["broken"] = (broken, "c2.wav is not a readable audio file")
    for name, (root, words) in cases.items():
        with pytest.raises(DataError) as e:
            speech.folder(str(root), seed=0)
        line = str(e.value)
        assert words in line and "\n" not in line, (name, line)


def _rounds(folder):
    import pyarrow.parquet as pq
    rows = [r for f in sorted(folder.rglob("tables/rounds/*.parquet")) for r in pq.read_table(f).to_pylist()]
    return sorted((r["method"], r["level"], r["ticket"], r["routing"], r["si_snri"]) for r in rows)


def test_a_run_with_learned_routing_is_deterministic_for_a_seed(tmp_path):
    from rtl_sweep import cli
    argv = [a for o in TINY + ["prune.target_sparsity=0.5", "routes=[oracle,learned]", "router.epochs=2",
                               f"data.data_dir={tmp_path / 'cache'}"] for a in ("--set", o)]
    for out in ("a", "b"):
        assert cli.main(["run", *argv, "--quiet", "-o", str(tmp_path / out)]) == 0
    a, b = _rounds(tmp_path / "a"), _rounds(tmp_path / "b")
    assert a == b and {r[3] for r in a} >= {"learned"}
    assert all(r[4] == r[4] for r in a if r[2] == -1)  # every method's main score is a number
    from rtl_sweep.tasks.speech import Speech
    run = next((tmp_path / "a").glob("rtl-*"))
    png, = Speech().pictures(str(run), str(tmp_path / "report"))
    assert png.endswith(".png") and (tmp_path / "report" / png.split("/")[-1]).stat().st_size > 1000
    wavs = sorted((tmp_path / "report").glob("speech_*/*.wav"))
    assert {w.name.split("_")[0] for w in wavs} == {"indoor", "outdoor", "transportation"}
    x, rate = sf.read(wavs[0])
    assert rate == speech.RATE and x.shape == (speech.RATE,)


def test_a_speech_config_with_image_data_or_model_is_one_clear_line(ctx):
    from rtl_sweep.errors import ConfigError
    task = ctx.task
    for bad, words in ((["data.name=mnist5k"], "data.name='mnist5k'"),
                       (["partition.method=kmeans"], "partition.method=kmeans"),
                       (["data.name=speech_folder"], "needs data.path")):
        cfg = RunConfig().with_overrides(TINY + bad)
        with pytest.raises(ConfigError) as e:
            task.load(cfg, torch.device("cpu"))
        assert words in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="mask_net"):
        task.build_model(RunConfig().with_overrides(TINY + ["model.name=cnn"]), ctx.data, 8000)
