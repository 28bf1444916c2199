"""The mask-per-subset family (PackNet, WSN, SupSup): each method's defining property on real data,
its masks' densities and honest parameter counts, and the methods end to end through a run."""

import glob
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from rtl_sweep import methods
from rtl_sweep.config import RunConfig
from rtl_sweep.context import build_context
from rtl_sweep.family import PackNet, SupSup, WSN
from rtl_sweep.metrics import param_counts
from rtl_sweep.pruning import density, kept, union

# bundled MNIST 5k, 3 subsets of digits, a tiny MLP (784 -> 64 -> 32 -> 10), multiclass
TINY = ["data.name=mnist5k", "data.max_per_class=30", "model.name=mlp", "model.width=4",
        "partition.method=groups", "partition.groups=0,1,2;3,4,5;6,7,8,9", "protocol=multiclass",
        "prune.epochs=1", "joint.epochs=1", "prune.batch_size=32", "prune.target_sparsity=0.75"]
LEVEL = 1  # density 0.5


@pytest.fixture(scope="module")
def ctx():
    return build_context(RunConfig().with_overrides(TINY), "cpu")


def clone(weights: dict) -> dict:
    return {n: w.clone() for n, w in weights.items()}


def moved(before: dict, after: dict, where: dict) -> int:
    return sum(int((before[n] != after[n])[where[n]].sum()) for n in where)


def test_packnet_never_changes_an_earlier_subsets_weights(ctx):
    seq = PackNet(ctx, LEVEL)
    prev = None
    for k in range(ctx.K):
        before, taken = clone(seq.weights), clone(seq.taken)
        mask = seq.subset(k)
        for n in seq.prunable:  # bit-identical by construction (read-only, torch.where write-back)
            assert torch.equal(seq.weights[n][taken[n]], before[n][taken[n]]), (k, n)
        if k > 0:  # the dense parameters are subset 0's, read-only after it
            assert all(torch.equal(seq.weights[n], before[n]) for n in before if n not in seq.prunable)
            assert all(bool((prev[n] <= mask[n]).all()) for n in mask)  # masks nest: 0 .. k own
        own = {n: mask[n] & ~taken[n] for n in mask}
        assert kept(own) in (ctx.kept[LEVEL] // ctx.K, ctx.kept[LEVEL] // ctx.K + 1)
        assert moved(before, seq.weights, own) > kept(own) // 2  # it trained its own share
        prev = mask
    # the union (the last subset's mask) has exactly the level's density
    assert kept(prev) == ctx.kept[LEVEL]


def test_wsn_updates_weights_only_where_free(ctx):
    seq, masks = WSN(ctx, LEVEL), []
    for k in range(ctx.K):
        before, taken = clone(seq.weights), clone(seq.taken)
        mask = seq.subset(k)
        masks.append(mask)
        for n in seq.prunable:  # every weight outside subset k's free selection is unchanged
            fixed = taken[n] | ~mask[n]
            assert torch.equal(seq.weights[n][fixed], before[n][fixed]), (k, n)
        assert abs(density(mask) - seq.density) < 1e-3  # top c% per layer, c = the level's density
        free_used = {n: mask[n] & ~taken[n] for n in mask}
        assert moved(before, seq.weights, free_used) > kept(free_used) // 2
        if k > 0:  # it reuses earlier subsets' weights, read-only
            assert kept({n: mask[n] & taken[n] for n in mask}) > 0
    assert len({tuple(torch.cat([m[n].flatten() for n in m]).tolist()) for m in masks}) == ctx.K


def test_supsup_weights_never_change(ctx):
    seq = SupSup(ctx, LEVEL)
    out = seq.run()
    for n, w in ctx.init_params.items():  # every parameter, dense ones too, is theta_0 bit for bit
        assert torch.equal(seq.weights[n].cpu(), w), n
    for m in out["masks"]:
        assert abs(density(m) - seq.density) < 1e-3
    # the supermasks were learned: not the masks of the initial scores, and not all the same
    from rtl_sweep.family.supermask import init_scores, masks_of
    first = masks_of(init_scores({n: ctx.init_params[n] for n in seq.prunable}, seq.seed(0, "scores")),
                     seq.density)
    assert any(not torch.equal(first[n], out["masks"][0][n]) for n in first)
    assert not torch.equal(out["masks"][0]["fc1.weight"], out["masks"][1]["fc1.weight"])
    # trained masks beat chance (10 classes) on the test inputs routed to their subset
    test_ids = torch.as_tensor(ctx.partition.test_ids)
    pred = torch.stack([lg.argmax(1) for lg in out["logits"]])[test_ids, torch.arange(len(test_ids))]
    assert float((pred == ctx.data.y_test).float().mean()) > 0.3


def test_parameter_counts_are_honest(ctx):
    masks = PackNet(ctx, LEVEL).run()["masks"]
    pc = param_counts(masks, ctx.dense_params, methods.PACKNET.count)
    assert pc["params_prunable"] == ctx.kept[LEVEL]  # one shared tensor: the union, once
    assert pc["params_total"] == ctx.kept[LEVEL] + ctx.dense_params
    wsn = [{n: torch.rand_like(m, dtype=torch.float32) < 0.5 for n, m in masks[0].items()} for _ in range(3)]
    assert param_counts(wsn, ctx.dense_params, methods.WSN.count)["params_prunable"] == kept(union(wsn))
    # SupSup stores K bit masks (in 32-bit words) and regenerates every weight from the seed
    pc = param_counts(masks, ctx.dense_params, methods.SUPSUP.count)
    assert pc["params_prunable"] == -(-ctx.K * ctx.total_prunable // 32) and pc["params_dense"] == 0
    assert pc["params_total"] == pc["params_prunable"]


def test_family_end_to_end_on_permuted_mnist(tmp_path, capsys):
    from rtl_sweep.cli import main
    from rtl_sweep.data.benchmarks import write
    data = write("permuted", str(tmp_path / "pmnist.npz"), k=3)
    sets = ["data.name=file", f"data.path={data}", "partition.method=group", "protocol=multiclass",
            "model.name=mlp", "model.width=4", "data.max_per_class=30", "prune.epochs=1", "joint.epochs=1",
            "prune.batch_size=32", "prune.target_sparsity=0.75",
            "baselines=[imp_single,imp_single_equal,packnet,wsn,supsup]"]
    argv = ["run", "-o", str(tmp_path / "runs"), "-q"]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "PackNet" in out and "WSN" in out and "SupSup" in out
    rows = [r for f in glob.glob(str(tmp_path / "runs" / "*" / "tables" / "rounds" / "*.parquet"))
            for r in pq.read_table(f).to_pylist() if r["ticket"] == -1 and r["routing"] == "oracle"]
    by = {(r["method"], r["level"]): r for r in rows}
    for name, count in (("packnet", "union"), ("wsn", "union"), ("supsup", "masks")):
        for level in range(3):
            r = by[(name, level)]
            # SupSup's level 0 is the untrained init (a dense supermask selects every weight)
            assert r["params_count"] == count and (r["accuracy"] > 0.2 or (name, level) == ("supsup", 0))
            assert r["epochs"] == 2  # the epochs of IMP single / multiple per subset
    rtl1 = by[("rtl", 1)]
    assert by[("packnet", 1)]["union_sparsity"] == pytest.approx(rtl1["sparsity"], abs=1e-6)
    assert by[("wsn", 1)]["sparsity"] == pytest.approx(rtl1["sparsity"], abs=1e-3)
    assert by[("supsup", 1)]["params_dense"] == 0


def test_family_in_a_sweep(ray_local, tmp_path):
    """One small real sweep (Ray Tune + Optuna) whose trials run the family beside RTL."""
    import yaml
    from rtl_sweep.cli import main
    base = {"data.name": "digits", "data.max_per_class": 20, "model.name": "mlp", "model.width": 4,
            "partition.method": "groups", "partition.groups": "0,1,2,3,4;5,6,7,8,9",
            "protocol": "multiclass", "prune.epochs": 1, "joint.epochs": 1, "prune.batch_size": 32,
            "prune.target_sparsity": 0.5,
            "baselines": ["imp_single", "imp_single_equal", "packnet", "wsn", "supsup"]}
    raw = {"name": "family", "base": base, "space": {"prune.lr": {"type": "categorical",
                                                                 "choices": [1.0e-3, 3.0e-3]}},
           "objectives": [{"metric": "advantage_single_equal", "mode": "max", "at": "final"}],
           "sampler": "random", "seed": 0, "samples": 1, "max_concurrent": 1,
           "stopper": {"collapse": False},
           "resources": {"coordinator_cpus": 0.5, "ticket_cpus": 0.5, "actors": 1}}
    space = tmp_path / "family.yaml"
    space.write_text(yaml.safe_dump(raw))
    assert main(["sweep", str(space), "--root", str(tmp_path / "sw"), "-q"]) == 0
    sweep = tmp_path / "sw" / "family"
    t = pq.read_table(sweep / "tables" / "trials").to_pandas()
    assert list(t.status) == ["completed"] and t.obj_advantage_single_equal.notna().all()
    rounds = pq.read_table(next((sweep / "trials").iterdir()) / "tables" / "rounds").to_pandas()
    assert {"packnet", "wsn", "supsup"} <= set(rounds.method)
    agg = rounds[(rounds.ticket == -1) & (rounds.method.isin(methods.FAMILY))]
    assert len(agg) == 3 * 2 and agg.accuracy.notna().all()  # 3 methods x 2 levels (0, 0.5)


def test_the_shipped_family_study_is_fair():
    """search_spaces/mask_family.yaml: every trial runs the whole family beside IMP single at equal
    parameters, routed by environment, with one learning rate for every method and the paper's
    exposure rule: nothing in the space is set for one method only."""
    from rtl_sweep.sweep.space import load_space
    spec = load_space(Path(__file__).resolve().parents[1] / "search_spaces" / "mask_family.yaml")
    assert spec.metrics == ["advantage_single_equal"] and spec.modes == ["max"]
    assert set(spec.groups["setting"]) == {"permuted", "rotated", "split"}
    for keys in spec.groups["lr"].values():
        assert keys["prune.lr"] == keys["joint.lr"]
    for label in spec.groups["setting"]:
        cfg = spec.trial_config({"setting": label, "lr": "1e-3", "prune.target_sparsity": 0.9,
                                 "prune.epochs": 1, "joint.epochs": 1})
        assert set(cfg.baselines) >= {"imp_single", "imp_single_equal", *methods.FAMILY}
        assert (cfg.partition.method, cfg.protocol, cfg.exposure) == ("group", "multiclass", "passes")
        assert cfg.data.name == "file" and cfg.data.path.endswith(("pmnist.npz", "rmnist.npz", "smnist.npz"))
