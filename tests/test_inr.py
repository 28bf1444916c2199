"""task=inr end to end on real photographs: config defaults, routing, scores against scikit-image,
user files, one-line refusals, the engine's regression path, the CLI run + report, Ray.

    PYTHONPATH=. python -m pytest -q tests/test_inr.py
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from skimage import io as skio
from skimage import metrics

from rtl_sweep import cli
from rtl_sweep.config import RunConfig
from rtl_sweep.context import build_context
from rtl_sweep.data.image import load_image
from rtl_sweep.errors import ConfigError, DataError
from rtl_sweep.results.summary import format_run
from rtl_sweep.tasks.inr import reconstruction, route
from rtl_sweep.training import new_state, predict_logits, train

# astronaut at 24x24 (576 pixels), 3 regions, 3 + 3 epochs, levels at 0 / 50 / 75%: seconds a run.
TINY = ["task=inr", "data.side=24", "partition.k=3", "partition.min_size=16", "model.width=16",
        "prune.epochs=3", "joint.epochs=3", "prune.target_sparsity=0.75", "prune.batch_size=64"]


def _cfg(extra=()) -> RunConfig:
    return RunConfig().with_overrides(TINY + list(extra))


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


def _set(overrides) -> list[str]:
    return [a for o in overrides for a in ("--set", o)]


@pytest.fixture(scope="module")
def photo_and_map(tmp_path_factory) -> tuple[Path, Path, np.ndarray]:
    """A user PNG (chelsea at 32x48) and a 2x finer ADE20K-style map: ids 4 and 9, 0 unlabelled."""
    d = tmp_path_factory.mktemp("user")
    photo = d / "cat.png"
    skio.imsave(photo, (load_image("chelsea", side=48) * 255).round().astype(np.uint8), check_contrast=False)
    ids = np.zeros((64, 96), np.uint8)
    ids[:, :44], ids[:, 52:] = 4, 9          # an unlabelled band between the two regions
    region_map = d / "ids.png"
    skio.imsave(region_map, ids, check_contrast=False)
    return photo, region_map, ids[::2, ::2] == 0


# ---- config ------------------------------------------------------------------------------------
def test_task_inr_brings_its_defaults_and_keeps_every_key_given(tmp_path):
    cfg = RunConfig.load(None, ["task=inr"])
    assert (cfg.data.name, cfg.partition.method, cfg.partition.k, cfg.model.name, cfg.model.width) == \
        ("image", "regions", 4, "siren", 64)
    assert RunConfig().hash() == "44136fa355b3"  # classification's default is untouched
    # A given key is kept even when it equals classification's default (16 is its width).
    assert RunConfig().with_overrides(["task=inr", "model.width=16"]).model.width == 16
    path = tmp_path / "run.yaml"
    path.write_text("prune:\n  lr: 1.0e-3\n")
    assert RunConfig.load(path, ["task=inr"]).prune.lr == 1e-3
    # The defaults are written out: config.yaml and the hash name every value the run used.
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.hash() == cfg.hash()
    assert cfg.with_overrides(["model.width=32"]).data.name == "image"


def test_model_options_apply_only_to_the_models_that_take_them():
    with pytest.raises(ConfigError) as e:
        build_context(RunConfig().with_overrides(["model.depth=5"]), "cpu")
    assert "model.depth=5 does not apply to model.name=cnn" in str(e.value) and "siren" in e.value.fix
    ctx = build_context(_cfg(["model.name=fourier_mlp", "model.depth=2", "model.features=16",
                              "model.prune_last=true"]), "cpu")
    assert ctx.model.prunable == ["hidden.0.weight", "hidden.1.weight", "classifier.weight"]


# ---- data, routing, scores ---------------------------------------------------------------------
def test_user_image_and_region_map_route_every_labelled_pixel_once(photo_and_map):
    photo, region_map, unlabelled = photo_and_map
    ctx = build_context(_cfg([f"data.image={photo}", "data.side=0", "partition.method=map",
                              f"data.region_map={region_map}"]), "cpu")
    data, part = ctx.data, ctx.partition
    assert data.image.shape == (32, 48, 3) and part.names == ["region-4", "region-9"]
    np.testing.assert_array_equal(data.region_ids < 0, unlabelled)
    # Samples are exactly the labelled pixels, each in one subset; train and test are the same.
    assert sorted(data.pixels) == list(np.flatnonzero(~unlabelled.ravel()))
    assert sum(part.sizes()) == len(data.pixels) == (~unlabelled).sum()
    np.testing.assert_array_equal(part.train_ids, data.region_ids.ravel()[data.pixels])
    assert torch.equal(data.x_train, data.x_test) and np.array_equal(part.train_ids, part.test_ids)
    single = ctx.task.single_target(ctx)  # IMP single fits the same labelled pixels, no others
    assert torch.equal(single.positives, torch.arange(len(data.pixels)))


def test_scores_equal_scikit_image(photo_and_map):
    ctx = build_context(_cfg(), "cpu")  # astronaut, every pixel labelled
    rng = np.random.default_rng(0)
    y = ctx.data.y_test.numpy()
    outputs = [torch.from_numpy(y + rng.normal(0, 0.03 * (k + 1), y.shape).astype(np.float32))
               for k in range(ctx.K)]
    mean, per = ctx.task.score_tickets(ctx, outputs)
    routed = np.clip(route(outputs, ctx.partition.test_ids), 0, 1)
    assert mean["psnr"] == pytest.approx(metrics.peak_signal_noise_ratio(y, routed, data_range=1.0))
    ids = ctx.partition.test_ids
    for k in range(ctx.K):  # ticket k answers region k: its PSNR there is its own noise level
        want = metrics.peak_signal_noise_ratio(y[ids == k], routed[ids == k], data_range=1.0)
        assert per[k]["psnr"] == pytest.approx(want)
    image = reconstruction(ctx.data, route(outputs, ids))
    assert mean["ssim"] == pytest.approx(metrics.structural_similarity(
        ctx.data.image, image, data_range=1.0, channel_axis=-1))
    assert per[0]["psnr"] > per[-1]["psnr"]  # less noise, higher PSNR
    # The dead-ticket rule: a ticket answering its region with one colour is dead.
    flat = list(outputs)
    flat[1] = torch.full_like(outputs[1], 0.5)
    assert ctx.task.ticket_alive(ctx, flat) == [True, False, True]


def test_siren_fits_a_32x32_photograph_crop_past_30_db_through_the_training_loop(tmp_path):
    crop = tmp_path / "face.png"
    face = load_image("astronaut", side=128)[16:48, 48:80]
    skio.imsave(crop, (face * 255).round().astype(np.uint8), check_contrast=False)
    ctx = build_context(_cfg([f"data.image={crop}", "data.side=0", "model.width=32",
                              "partition.min_size=0"]), "cpu")
    params, bufs = new_state(ctx.init_params, ctx.init_buffers, ctx.device)
    # Whole-image batches, lr 1e-3: measured 40 dB at 300 steps (the engine's own MSE path).
    train(ctx.model, params, bufs, None, ctx.task.single_target(ctx), ctx.x_train, 300, 1e-3, 1024, 0)
    out = predict_logits(ctx.model, params, bufs, None, ctx.x_test)
    assert ctx.task.score_single(ctx, out)[0]["psnr"] >= 30.0


def _one_line(cfg_overrides, kind, says):
    with pytest.raises(kind) as e:
        build_context(_cfg(cfg_overrides), "cpu")
    assert says in str(e.value) and "\n" not in str(e.value) and e.value.fix, str(e.value)


def test_bad_inputs_are_one_clear_line_each(tmp_path, photo_and_map):
    photo, _, _ = photo_and_map
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a picture")
    _one_line([f"data.image={bad}"], DataError, "cannot be read as an image")
    wide = tmp_path / "wide.png"
    skio.imsave(wide, np.ones((32, 96), np.uint8), check_contrast=False)
    _one_line([f"data.image={photo}", "data.side=0", "partition.method=map", f"data.region_map={wide}"],
              DataError, "aspect ratios differ")
    one = tmp_path / "one.png"
    skio.imsave(one, np.full((32, 48), 7, np.uint8), check_contrast=False)
    _one_line([f"data.image={photo}", "data.side=0", "partition.method=map", f"data.region_map={one}"],
              DataError, "single region")
    _one_line(["partition.k=1"], ConfigError, "single region")
    _one_line(["data.side=2", "partition.k=5"], ConfigError, "exceeds the image's 4 pixels")
    _one_line(["partition.method=map"], ConfigError, "needs data.region_map")
    _one_line(["partition.method=class"], ConfigError, "does not route pixels")
    _one_line(["model.name=cnn"], ConfigError, "takes images")
    rc, _, err = _cli(["run", "-q", "-o", str(tmp_path / "r"), *_set(TINY + ["data.image=astronuat"])])
    assert rc == 2 and err.count("\n") == 1 and "unknown photograph 'astronuat'" in err


def test_summary_signs_the_difference_by_the_task_direction():
    rows = [{"method": m, "level": 1, "ticket": -1, "sparsity": 0.5, "union_sparsity": 0.3, "psnr": v,
             "ssim": 0.9, "params_prunable": 10, "params_count": c}
            for m, v, c in (("rtl", 25.0, "union"), ("imp_single_equal", 27.5, "single"))]
    up = format_run(rows)
    assert "RTL PSNR dB" in up and "RTL - single" in up and "-2.50" in up and "bal.acc" not in up
    down = format_run(rows, main_score="psnr", higher_is_better=False)
    assert "single - RTL" in down and "+2.50" in down


def test_a_sweep_takes_k_from_the_regions_and_refuses_an_impossible_one():
    from rtl_sweep.sweep.space import parse_space
    from rtl_sweep.sweep.facts import check_k_range, k_of
    assert k_of(_cfg(["partition.k=3"])) == 3
    assert k_of(_cfg(["partition.k=3", "partition.min_size=150"])) == 2  # merging leaves 340 + 236 px
    import yaml
    raw = {"base": {k: yaml.safe_load(v) for k, v in (o.split("=") for o in TINY) if k != "partition.k"},
           "space": {"partition.k": {"type": "int", "low": 2, "high": 999}},
           "objectives": [{"metric": "psnr", "mode": "max"}]}
    with pytest.raises(ConfigError, match="exceeds the image's 576 pixels"):
        check_k_range(parse_space(raw))


# ---- the engine: vectorized tickets, the CLI, the report, Ray ---------------------------------
def test_vectorized_tickets_match_the_sequential_loop(tmp_path):
    from rtl_sweep.engine import Run
    seq = Run(_cfg(["prune.target_sparsity=0.5", "baselines=[]"]), tmp_path / "seq").execute()
    vec = Run(_cfg(["prune.target_sparsity=0.5", "baselines=[]", "prune.vectorize=on"]),
              tmp_path / "vec").execute()
    a, b = ([r for r in res["records"][-1]["rounds"] if r["ticket"] == -1] for res in (seq, vec))
    for ra, rb in zip(a, b):  # float reordering only: same masks' overlap, PSNR within 0.1 dB
        assert ra["mean_jaccard"] == pytest.approx(rb["mean_jaccard"], abs=0.01)
        assert ra["psnr"] == pytest.approx(rb["psnr"], abs=0.1)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("inr_runs")
    rc, out, err = _cli(["run", "-o", str(root), *_set(TINY), "-q"])
    return rc, out, err, root / _cfg().folder_name()


def test_cli_run_prints_psnr_tables_and_writes_the_scores(cli_run):
    rc, out, err, folder = cli_run
    assert rc == 0, err
    equal = out.split("At equal total parameters")[1]
    assert "PSNR dB" in out.split("At equal total parameters")[0] and "RTL PSNR dB" in equal
    assert [line.split()[0] for line in equal.split("\n\n")[0].splitlines()[3:]] == ["1", "2"]
    rows = pq.read_table(folder / "tables" / "rounds").to_pylist()
    agg = {(r["method"], r["level"]): r for r in rows if r["ticket"] == -1}
    assert {m for m, _ in agg} == {"rtl", "rtl_tickets", "imp_single", "imp_multiple", "imp_single_equal"}
    # 3 epochs fit little (~8-12 dB); the scores exist, in range, and classification's stay null.
    assert all(5 < r["psnr"] < 60 and -1 <= r["ssim"] <= 1 and r["balanced_accuracy"] is None
               for r in agg.values())
    assert [agg[m, 1]["params_count"] for m in ("rtl", "imp_multiple", "imp_single")] == ["union", "sum", "single"]
    assert agg["imp_single_equal", 1]["params_prunable"] == agg["rtl", 1]["params_prunable"]
    per = [r for r in rows if r["method"] == "rtl" and r["level"] == 2 and r["ticket"] >= 0]
    assert [r["subset"] for r in per] == ["region0", "region1", "region2"]
    assert all(r["psnr"] is not None and r["dead_tickets"] == 0 for r in per)
    sim = pq.read_table(folder / "tables" / "similarity").to_pandas()
    assert {"__all__", "hidden.0.weight"} <= set(sim.layer) and sim.ticket_i.max() == 2


def test_report_shows_the_pictures_and_psnr_vs_sparsity(cli_run, tmp_path):
    _, _, _, folder = cli_run
    rc, out, err = _cli(["report", str(folder), "-o", str(tmp_path / "rep")])
    assert rc == 0, err
    rid = folder.name.split("-")[-1]
    names = {Path(line).name for line in out.splitlines() if line.endswith(".png")}
    assert {f"inr_{rid}.png", f"accuracy_{rid}.png", f"jaccard_{rid}.png"} <= names
    from PIL import Image
    with Image.open(tmp_path / "rep" / f"inr_{rid}.png") as im:
        assert im.size[0] > 600 and im.size[1] > 300  # original + 3 levels x 5 methods x 2 panels
    page = (tmp_path / "rep" / "index.html").read_text()
    assert f"inr_{rid}.png" in page and "PSNR dB" in page
    rc, out, _ = _cli(["results", str(folder)])
    assert rc == 0 and "RTL PSNR dB" in out
    rc, out, err = _cli(["query", str(folder), PSNR_VS_SPARSITY, "-f", "json"])  # docs/results.md's query
    rows = json.loads(out)
    assert rc == 0, err
    assert {r["method"] for r in rows} == {"rtl", "rtl_tickets", "imp_single", "imp_multiple", "imp_single_equal"}
    assert [r["sparsity"] for r in rows if r["method"] == "rtl"] == [0.0, 0.5, 0.75]


PSNR_VS_SPARSITY = ("select method, round(sparsity, 3) as sparsity, round(avg(psnr), 2) as psnr_db from rounds "
                    "where ticket = -1 and psnr is not null group by all order by method, sparsity")


def test_ray_executor_gives_the_local_masks(ray_local, cli_run, tmp_path):
    from rtl_sweep.distributed.ray_executor import ray_executor
    from rtl_sweep.engine import Run
    _, _, _, local = cli_run
    cfg = _cfg()
    Run(cfg, str(tmp_path), executor=ray_executor()).execute()
    for ckpt in sorted((local / "ckpt").glob("rtl-*/L*.pt")):
        a = torch.load(ckpt, weights_only=True)["mask"]
        b = torch.load(tmp_path / cfg.folder_name() / ckpt.relative_to(local), weights_only=True)["mask"]
        assert all(torch.equal(a[n], b[n]) for n in a)
