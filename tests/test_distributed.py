"""Ray executor: equivalence with the local run, a killed actor, bad inputs (one local Ray)."""


import pytest
import torch

from rtl_sweep.engine import Run
from rtl_sweep.errors import ClusterError, ConfigError


def _masks(folder) -> dict:
    out = {}
    for f in sorted(folder.glob("ckpt/*/L*.pt")):
        ck = torch.load(f, weights_only=True)
        out[f.relative_to(folder).as_posix()] = ck.get("mask", ck.get("masks"))
    return out


def _same(a: dict, b: dict) -> bool:
    assert a and a.keys() == b.keys(), "no checkpoints to compare, or different ones"
    for key in a:
        x, y = a[key], b[key]
        xs, ys = (x, y) if isinstance(x, list) else ([x], [y])
        assert len(xs) == len(ys), key
        for m1, m2 in zip(xs, ys):
            if not all(torch.equal(m1[n], m2[n]) for n in m1):
                return False
    return True


def _rounds(folder):
    import pyarrow.parquet as pq
    t = pq.read_table(folder / "tables" / "rounds").to_pandas().drop(columns=["wall_s"])
    return t.sort_values(["method", "level", "ticket"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, request):
    from rtl_sweep.config import RunConfig
    from tests.conftest import tiny_overrides
    cfg = RunConfig().with_overrides(tiny_overrides())
    root = tmp_path_factory.mktemp("local")
    Run(cfg, str(root), threads=1).execute()
    return cfg, root / cfg.folder_name()


def test_ray_executor_matches_local_bit_for_bit(ray_local, local_run, tmp_path):
    from rtl_sweep.distributed.ray_executor import ray_executor
    cfg, local_folder = local_run
    run = Run(cfg, str(tmp_path), executor=ray_executor())
    assert run.executor.plan.count == 2  # this machine's 2 CPUs, one per actor
    run.execute()
    folder = tmp_path / cfg.folder_name()
    assert _same(_masks(local_folder), _masks(folder))
    import pandas.testing as pdt
    pdt.assert_frame_equal(_rounds(local_folder), _rounds(folder))
    placement = (folder / "placement.json").read_text()
    assert "rtl-0@L0" in placement


def test_killed_actor_restarts_and_run_matches(ray_local, local_run, tmp_path):
    from rtl_sweep.distributed.ray_executor import ray_executor
    cfg, local_folder = local_run
    run = Run(cfg, str(tmp_path), executor=ray_executor())
    killed = []
    pids_before = {i["pid"] for i in run.executor.actor_info()}

    def kill_once(unit, wall):
        # Mid-run: after the first finished unit of level 1, kill an actor while it holds work.
        if not killed and unit.level == 1:
            ray_local.kill(run.executor.actors[0], no_restart=False)
            killed.append(unit)
    original = run.executor.run
    run.executor.run = lambda units, progress=None: original(units, kill_once)
    result = run.execute()
    assert killed and result["status"] == "completed"
    assert _same(_masks(local_folder), _masks(tmp_path / cfg.folder_name()))
    import json
    pids_used = {p["pid"] for p in json.loads((tmp_path / cfg.folder_name() / "placement.json").read_text())}
    assert pids_used - pids_before, "the killed actor was restarted in a new process"


def test_unreachable_address_fails_fast():
    # "no Ray reachable" comes only from the socket pre-check (3 s timeout), never from ray.init's
    # own minute-long retries: the message proves the fast path without timing it.
    from rtl_sweep.distributed.ray_init import check_reachable
    with pytest.raises(ClusterError, match="no Ray reachable"):
        check_reachable("127.0.0.1:1")


def test_more_gpus_than_any_node_and_bad_fraction(ray_local):
    from rtl_sweep.distributed.resources import plan_actors
    with pytest.raises(ClusterError, match="no node has"):
        plan_actors(10, gpus=1)
    for bad in (-0.5, 1.5):
        with pytest.raises(ConfigError, match=r"outside \(0, 1\]"):
            plan_actors(10, gpus=bad)
    assert plan_actors(10).count == 2 and plan_actors(10).gpus == 0


def test_cli_unreachable_address_one_line(capsys):
    from rtl_sweep.cli import main
    code = main(["run", "--executor", "ray", "--address", "127.0.0.1:1", "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: no Ray reachable at 127.0.0.1:1") and "Traceback" not in err
