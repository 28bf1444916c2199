"""Routing without an oracle (rtl_sweep/routing.py) and predicting with a finished run
(rtl_sweep/predict.py), on small real data: digits one-vs-rest, and MNIST seen in three
environments (the manual's example file, docs/own_data.md, capped) routed by environment under multiclass.

    python -m pytest tests/test_routing.py -q

The oracle's rows must not depend on the routes: routing only changes scoring, so the oracle rows of
a run that scores every routing equal those of an oracle-only run from the same checkpoints. (When
routings were added, the oracle rows were also checked against values written by the commit before
them, on the same machine: equal. Exact trained values differ between CPUs, so that check is not a
test here: tests/test_vectorized.py says why.)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from rtl_sweep import cli
from rtl_sweep.config import RunConfig
from rtl_sweep.context import build_context
from rtl_sweep.engine import Run
from rtl_sweep.errors import ConfigError
from rtl_sweep.predict import load_run
from rtl_sweep.routing import ROUTER_CKPT, Routes, run_router
from rtl_sweep.serialize import tensor_load
from rtl_sweep.store import Store

TINY = ["data.max_per_class=60", "model.name=mlp", "model.width=8", "prune.epochs=2", "joint.epochs=1",
        "prune.target_sparsity=0.75", "prune.batch_size=32"]
ALL_MULTICLASS = "[oracle,centroid,learned,confidence,entropy]"


def _envs_cfg(path: Path, routes: str) -> RunConfig:
    return RunConfig().with_overrides(TINY + ["data.name=file", f"data.path={path}", "data.max_per_class=40",
                                              "partition.method=group", "protocol=multiclass",
                                              f"routes={routes}"])


def _rounds(folder: Path) -> list[dict]:
    return pq.read_table(folder / "tables" / "rounds").to_pylist()


def _files(folder: Path) -> dict[str, tuple]:
    """Every checkpoint file: (inode, mtime_ns, sha256). A file rewritten gets a new inode."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p.relative_to(folder))] = (st.st_ino, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def _cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def ovr(tmp_path_factory):
    """digits, one-vs-rest, class partition, every baseline; default routes (oracle and argmax)."""
    root = tmp_path_factory.mktemp("ovr")
    run = Run(RunConfig().with_overrides(TINY + ["data.name=digits"]), root)
    result = run.execute()
    return SimpleNamespace(run=run, folder=Path(result["folder"]), records=result["records"])


@pytest.fixture(scope="module")
def envs(tmp_path_factory):
    """The environments example (capped): first run with the oracle only, then the same config with
    every multiclass routing, in the same folder."""
    from rtl_sweep.data.make_example import environments
    root = tmp_path_factory.mktemp("envs")
    x, y, g = environments(0)
    path = root / "envs.npz"
    np.savez_compressed(path, X=x, y=y, group=g)
    first = Run(_envs_cfg(path, "[oracle]"), root / "runs").execute()
    folder = Path(first["folder"])
    before, parts_before = _files(folder / "ckpt"), sorted(p.name for p in (folder / "tables" / "rounds").iterdir())
    run = Run(_envs_cfg(path, ALL_MULTICLASS), root / "runs")
    second = run.execute()
    return SimpleNamespace(run=run, folder=folder, path=path, raw=(x, y, g), first=first, second=second,
                           before=before, parts_before=parts_before, after=_files(folder / "ckpt"))


# ---- the oracle is today's ----------------------------------------------------------------------
def _oracle(rows: list[dict]) -> dict:
    return {(r["method"], r["level"], r["ticket"]): r for r in rows if r["ticket"] >= -1}


def _differ(new: dict, old: dict) -> dict:
    """Per row, the columns of `new` whose value differs in `old` (a stored row has every column of
    the schema; a record holds the ones the run filled)."""
    out = {}
    for k, row in new.items():
        cols = {c for c, v in row.items() if not (v == old[k].get(c) or (v != v and old[k].get(c) != old[k].get(c)))}
        if cols:
            out[k] = cols
    return out


def test_oracle_rows_are_bit_identical_to_todays(ovr, envs):
    # digits: the rows written beside argmax's equal an oracle-only run's from the same checkpoints
    only = Run(ovr.run.cfg.with_overrides(["routes=[oracle]"]), ovr.folder.parent).execute()
    written, again = _oracle(_rounds(ovr.folder)), _oracle(r for rec in only["records"] for r in rec["rounds"])
    assert again and set(again) <= set(written)
    assert not _differ(again, written), _differ(again, written)
    assert all(written[k]["routing"] == "oracle" for k in again)
    # environments: written by an oracle-only run; the rerun with every routing recomputed them
    first = _oracle(_rounds(envs.folder))
    second = _oracle(r for rec in envs.second["records"] for r in rec["rounds"])
    assert second and not _differ(second, first), _differ(second, first)
    assert all(first[k]["routing"] == "oracle" for k in second)
    # a query that picks ticket = -1 sees one row per method and level: the oracle's
    agg = [(r["method"], r["level"]) for r in _rounds(envs.folder) if r["ticket"] == -1]
    assert len(agg) == len(set(agg))
    # the routings a run scores from the start share its parts: one per level, as before
    assert sorted(p.name for p in (ovr.folder / "tables" / "rounds").iterdir()) == sorted(
        ["L000.parquet", "L001.parquet", "L001-imp_single_equal.parquet", "L002.parquet",
         "L002-imp_single_equal.parquet"])


# ---- argmax and confidence by hand ----------------------------------------------------------------
def _logits(folder: Path, method: str, level: int, K: int) -> list[torch.Tensor]:
    if method == "rtl":
        return tensor_load((folder / f"ckpt/joint/L{level}.pt").read_bytes())["logits"]
    loop = "rtl" if method == "rtl_tickets" else method
    return [tensor_load((folder / f"ckpt/{loop}-{k}/L{level}.pt").read_bytes())["logits"] for k in range(K)]


def _routed(rows: list[dict], method: str, level: int, routing: str) -> dict:
    (row,) = [r for r in rows if r["method"] == method and r["level"] == level and r["routing"] == routing
              and r["ticket"] == -2]
    return row


def test_argmax_equals_a_hand_computation(ovr):
    ctx, rows = ovr.run.ctx, _rounds(ovr.folder)
    truth = [int(t) for t in ctx.partition.test_ids]
    for level in range(ctx.levels):
        for method in ("rtl", "rtl_tickets", "imp_multiple"):
            lg = [t.tolist() for t in _logits(ovr.folder, method, level, ctx.K)]
            pred = []
            for i in range(len(truth)):          # ticket k's own output k; the largest wins
                own = [lg[k][i][k] for k in range(ctx.K)]
                pred.append(own.index(max(own)))
            row = _routed(rows, method, level, "argmax")
            assert row["accuracy"] == pytest.approx(sum(p == t for p, t in zip(pred, truth)) / len(truth), abs=1e-12)
            bal = []
            for k in range(ctx.K):               # one-vs-rest of the K-way answer, averaged
                tp = sum(p == k and t == k for p, t in zip(pred, truth))
                tn = sum(p != k and t != k for p, t in zip(pred, truth))
                pos = sum(t == k for t in truth)
                bal.append((tp / pos + tn / (len(truth) - pos)) / 2)
            assert row["balanced_accuracy"] == pytest.approx(sum(bal) / ctx.K, abs=1e-12)
            assert row["router_agreement"] == row["accuracy"] and row["router_params"] == 0
        single = _routed(rows, "imp_single", level, "argmax")
        out = tensor_load((ovr.folder / f"ckpt/imp_single/L{level}.pt").read_bytes())["logits"].tolist()
        hits = sum(o.index(max(o)) == t for o, t in zip(out, truth))
        assert single["accuracy"] == pytest.approx(hits / len(truth), abs=1e-12)


def test_confidence_equals_a_hand_computation(envs):
    ctx, rows = envs.run.ctx, _rounds(envs.folder)
    truth, y = ctx.partition.test_ids.tolist(), ctx.data.y_test.tolist()
    for level in range(ctx.levels):
        lg = [t.tolist() for t in _logits(envs.folder, "rtl", level, ctx.K)]
        chosen, hits = [], 0
        for i in range(len(y)):
            conf = []
            for k in range(ctx.K):               # each ticket's largest softmax probability
                z = lg[k][i]
                conf.append(1.0 / sum(math.exp(v - max(z)) for v in z))
            k = conf.index(max(conf))
            chosen.append(k)
            hits += lg[k][i].index(max(lg[k][i])) == y[i]
        row = _routed(rows, "rtl", level, "confidence")
        assert row["accuracy"] == pytest.approx(hits / len(y), abs=1e-12)
        assert row["router_agreement"] == pytest.approx(np.mean(np.array(chosen) == truth), abs=1e-12)


# ---- no test label, no test subset id ---------------------------------------------------------------
def test_the_routers_never_read_test_labels_or_test_subset_ids(envs, tmp_path):
    ctx = envs.run.ctx
    poisoned = build_context(envs.run.cfg, "cpu")
    rng = np.random.default_rng(1)
    poisoned.data.y_test = torch.from_numpy(rng.integers(0, 10, len(ctx.data.y_test)))
    poisoned.data.g_test = torch.from_numpy(rng.integers(0, 3, len(ctx.data.y_test)))
    poisoned.partition.test_ids = rng.integers(0, ctx.K, len(ctx.data.y_test))
    assert not np.array_equal(poisoned.partition.test_ids, ctx.partition.test_ids)
    store = Store(str(tmp_path))
    run_router(poisoned, store, ROUTER_CKPT)              # the learned router, trained again
    mine = tensor_load(store.read_bytes(ROUTER_CKPT))["state"]
    theirs = tensor_load((envs.folder / ROUTER_CKPT).read_bytes())["state"]
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[n], theirs[n]) for n in mine)
    outputs = _logits(envs.folder, "rtl", 1, ctx.K)
    clean, dirty = Routes(ctx, envs.run.store), Routes(poisoned, store)
    for name in ("centroid", "learned", "confidence", "entropy"):
        assert np.array_equal(clean.choose_test(name, outputs), dirty.choose_test(name, outputs)), name


# ---- parameters ---------------------------------------------------------------------------------------
def test_parameter_totals_include_the_router_where_stated(envs):
    ctx, rows = envs.run.ctx, _rounds(envs.folder)
    state = tensor_load((envs.folder / ROUTER_CKPT).read_bytes())["state"]
    router = sum(t.numel() for t in state.values())
    centroids = ctx.K * int(np.prod(ctx.data.input_shape))      # raw embedding: K mean inputs
    for r in rows:
        if r["ticket"] >= 0:
            continue
        want = {"oracle": 0, "confidence": 0, "entropy": 0, "learned": router, "centroid": centroids}[r["routing"]]
        if r["method"] in ("imp_single", "imp_single_equal"):
            want = 0                                              # one model: nothing routed
        assert r["router_params"] == want, (r["method"], r["routing"])
        assert r["params_with_router"] == r["params_total"] + want
        oracle = next(o for o in rows if o["ticket"] == -1 and (o["method"], o["level"]) == (r["method"], r["level"]))
        assert r["params_total"] == oracle["params_total"]        # the method's own count never changes
    rtl = {(r["level"], r["routing"]): r for r in rows if r["method"] == "rtl" and r["ticket"] < 0}
    eq = {r["level"]: r for r in rows if r["method"] == "imp_single_equal" and r["ticket"] == -1}
    for level, e in eq.items():  # the equal-parameter baseline stays matched to the union of masks
        assert e["params_prunable"] == rtl[(level, "learned")]["params_prunable"]
    text = _cli("results", envs.folder)[1]
    assert "RTL + router" in text and f"{router:,}" in text


# ---- reruns ---------------------------------------------------------------------------------------------
def test_a_rerun_adding_routes_retrains_nothing(envs):
    assert envs.second["folder"] == envs.first["folder"]            # routes are not in the hash
    new = set(envs.after) - set(envs.before)
    assert new == {"router.pt", "router.pt.time"}                    # the router is its one new unit
    assert {k: envs.after[k] for k in envs.before} == envs.before    # nothing else rewritten
    parts = sorted(p.name for p in (envs.folder / "tables" / "rounds").iterdir())
    assert set(envs.parts_before) < set(parts)
    assert {p for p in parts if p not in envs.parts_before} >= {"L001-learned.parquet", "L002-confidence.parquet"}
    Run(envs.run.cfg, envs.folder.parent).execute()                  # once more: not even the router
    assert _files(envs.folder / "ckpt") == envs.after


# ---- predict ------------------------------------------------------------------------------------------
def test_predict_reproduces_the_recorded_accuracy(envs, ovr, tmp_path):
    x, y, g = envs.raw
    loaded = load_run(str(envs.folder))
    rows_ = loaded.ctx.data.test_rows
    assert loaded.level == envs.run.ctx.levels - 1
    truth = loaded.subsets_of(y[rows_], g[rows_])
    rows = _rounds(envs.folder)
    for routing in ("oracle", "centroid", "learned", "confidence", "entropy"):
        out = loaded.predict(x[rows_], routing, subsets=truth if routing == "oracle" else None)
        rec = _routed(rows, "rtl", loaded.level, routing) if routing != "oracle" else \
            next(r for r in rows if r["method"] == "rtl" and r["level"] == loaded.level and r["ticket"] == -1)
        assert float((out["prediction"] == loaded.class_ids(y[rows_])).mean()) == rec["accuracy"], routing
        assert float((out["subset"] == truth).mean()) == rec["router_agreement"], routing
    # the command line, on a file holding the test split
    test_file, preds = tmp_path / "test.npz", tmp_path / "preds.parquet"
    np.savez(test_file, X=x[rows_], y=y[rows_], group=g[rows_])
    rc, out, err = _cli("predict", envs.folder, "--input", test_file, "--routing", "learned", "--output", preds)
    assert rc == 0, err
    table = pq.read_table(preds).to_pydict()
    assert np.mean(np.array(table["prediction"]) == np.array(table["label"])) == \
        _routed(rows, "rtl", loaded.level, "learned")["accuracy"]
    # one-vs-rest: argmax over the detectors
    from rtl_sweep.data.bundled import load_digits
    digits = load_digits()
    run = load_run(str(ovr.folder), level=1)
    sel = run.ctx.data.test_rows
    out = run.predict(digits.x[sel], "argmax")
    want = _routed(_rounds(ovr.folder), "rtl", 1, "argmax")["accuracy"]
    assert float((out["prediction"] == run.subsets_of(digits.y[sel])).mean()) == want


# ---- refusals -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["--set", "routes=[oracle,learned]"], ["learned makes no sense for protocol=ovr", "binary detector"]),
    (["--set", "protocol=multiclass", "--set", "routes=argmax"], ["argmax makes no sense", "confidence"]),
    (["--set", "routes=nearest"], ["'nearest' is not a routing", "centroid"]),
])
def test_a_routing_that_makes_no_sense_is_refused_in_one_line(tmp_path, argv, words):
    rc, out, err = _cli("run", "-o", tmp_path, *argv)
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert all(w in err for w in words), err
    assert not any(tmp_path.iterdir())                                # refused before anything ran


def test_predict_refuses_what_the_run_cannot_do(ovr, envs, tmp_path):
    with pytest.raises(ConfigError, match="learned makes no sense for protocol=ovr"):
        load_run(str(ovr.folder)).predict(np.zeros((2, 64)), "learned")
    x, _, _ = envs.raw
    with pytest.raises(ConfigError, match="needs each input's subset id"):
        load_run(str(envs.folder)).predict(x[:3], "oracle")
    rc, _, err = _cli("predict", ovr.folder, "--input", tmp_path / "missing.npz", "--routing", "argmax",
                      "--output", tmp_path / "p.parquet")
    assert rc == 2 and "missing.npz" in err and err.count("\n") == 1


# ---- k-means and sweeps -----------------------------------------------------------------------------------
def test_centroid_routing_of_a_kmeans_partition_is_its_oracle(tmp_path):
    cfg = RunConfig().with_overrides(TINY + ["data.name=digits", "data.max_per_class=30", "partition.method=kmeans",
                                             "partition.k=3", "protocol=multiclass", "baselines=[]",
                                             "routes=[centroid]", "prune.target_sparsity=0.5"])
    rows = _rounds(Path(Run(cfg, tmp_path).execute()["folder"]))
    for r in rows:
        if r["ticket"] == -2:
            oracle = next(o for o in rows if o["ticket"] == -1 and (o["method"], o["level"]) == (r["method"], r["level"]))
            assert r["router_agreement"] == 1.0 and r["accuracy"] == oracle["accuracy"]


def test_a_learned_router_over_classes_shows_its_own_accuracy(tmp_path):
    cfg = RunConfig().with_overrides(TINY + ["data.name=digits", "data.max_per_class=30", "protocol=multiclass",
                                             "baselines=[]", "routes=[learned]", "prune.target_sparsity=0.5"])
    folder = Path(Run(cfg, tmp_path).execute()["folder"])
    learned = [r for r in _rounds(folder) if r["routing"] == "learned"]
    assert learned and all(r["router_accuracy"] == r["router_agreement"] is not None for r in learned)
    rc, out, _ = _cli("results", folder)
    assert rc == 0 and "router acc" in out and "the learned router alone" in out


def test_a_sweep_objective_reads_its_routing(envs):
    from rtl_sweep.sweep.space import parse_space
    from rtl_sweep.sweep.trainable import routed_metrics
    raw = {"base": {"protocol": "multiclass", "partition.method": "group"},
           "space": {"prune.fraction": {"type": "float", "low": 0.3, "high": 0.6}},
           "objectives": [{"metric": "accuracy", "mode": "max", "routing": "learned"},
                          {"metric": "router_params", "mode": "min", "routing": "learned"}]}
    spec = parse_space(raw)
    assert spec.metrics == ["accuracy_learned", "router_params_learned"]
    cfg = spec.trial_config({"prune.fraction": 0.4})
    assert cfg.routes == ["oracle", "learned"] and cfg.hash() == dataclass_hash(cfg)
    rec = envs.second["records"][-1]
    got = routed_metrics(spec, rec)
    row = _routed(rec["rounds"], "rtl", rec["level"], "learned")
    assert got == {"accuracy_learned": row["accuracy"], "router_params_learned": float(row["router_params"])}
    with pytest.raises(ConfigError, match="objective routing: learned makes no sense for protocol=ovr"):
        parse_space({**raw, "base": {}})


def dataclass_hash(cfg: RunConfig) -> str:
    """The hash of the same config without routes."""
    import dataclasses
    return dataclasses.replace(cfg, routes=[]).hash()
