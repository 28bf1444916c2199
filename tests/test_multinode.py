"""A real multi-node Ray cluster on this machine (head + worker, 127.0.0.1 only): tickets land on
different nodes, every record lands in the one shared results folder, and the masks equal a
local run's. Nodes declare a GPU and a custom resource; torch still runs on CPU."""

import json
import os

import pytest
import torch


def _cluster(head: dict, worker: dict):
    """A head and a worker node on 127.0.0.1, with Ray connected to them; shut down after."""
    import ray
    from ray.cluster_utils import Cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={
        "node_ip_address": "127.0.0.1", "num_cpus": 1, "include_dashboard": False, **head})
    cluster.add_node(node_ip_address="127.0.0.1", num_cpus=1, **worker)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture
def two_node_cluster():
    yield from _cluster({"resources": {"ticket_slot": 1}}, {"num_gpus": 1, "resources": {"ticket_slot": 1}})


def test_tickets_spread_over_nodes_and_records_in_shared_folder(two_node_cluster, tmp_path):
    import ray
    from rtl_sweep.config import RunConfig
    from rtl_sweep.distributed.ray_executor import ray_executor
    from rtl_sweep.engine import Run
    from tests.conftest import tiny_overrides

    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    cfg = RunConfig().with_overrides(tiny_overrides() + ["prune.target_sparsity=0.75"])
    # One ticket actor per node: each holds the node's one 'ticket_slot'. GPUs are declared but
    # not requested here (gpus=0): the GPU path is covered by the next assertion.
    run = Run(cfg, str(tmp_path), executor=ray_executor(address=two_node_cluster.address, gpus_per_actor=0,
                                                        resources_per_actor={"ticket_slot": 1}))
    info = run.executor.actor_info()
    assert len({i["node"] for i in info}) == 2
    run.execute()
    folder = tmp_path / cfg.folder_name()
    placements = json.loads((folder / "placement.json").read_text())
    assert len({p["node"] for p in placements}) == 2, "tickets ran on both nodes"
    assert sorted(p.name for p in (folder / "tables" / "rounds").glob("*.parquet")) == sorted(
        ["L000.parquet", "L001.parquet", "L001-imp_single_equal.parquet", "L002.parquet",
         "L002-imp_single_equal.parquet"])

    local_root = tmp_path / "local"
    Run(cfg, str(local_root), threads=1).execute()
    ckpts = sorted(folder.glob("ckpt/rtl-*/L*.pt"))
    assert ckpts, "no ticket checkpoints to compare"
    for f in ckpts:
        a = torch.load(f, weights_only=True)["mask"]
        b = torch.load(local_root / cfg.folder_name() / f.relative_to(folder), weights_only=True)["mask"]
        assert all(torch.equal(a[n], b[n]) for n in a)


def test_declared_gpu_is_assigned_and_torch_stays_on_cpu(two_node_cluster):
    import ray
    from rtl_sweep.distributed.resources import plan_actors

    plan = plan_actors(4)  # the cluster has a GPU: one GPU per ticket by default
    assert plan.gpus == 1 and plan.count == 1

    @ray.remote(num_gpus=1, num_cpus=0)
    def where():
        import torch
        return os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.is_available()
    visible, cuda = ray.get(where.remote())
    # the declared GPU is assigned; torch sees a device only where this machine really has one
    assert visible == "0" and cuda is (torch.cuda.device_count() > 0)


@pytest.fixture
def two_gpu_nodes():
    yield from _cluster({"num_gpus": 1}, {"num_gpus": 1})


def test_fused_stacks_are_cut_over_gpu_actors(two_gpu_nodes, tmp_path):
    """G = 2 declared GPUs: each fused stack is cut in two, one part per GPU actor (torch stays on
    the CPU here); the masks agree with a local fused run's."""
    from rtl_sweep.config import RunConfig
    from rtl_sweep.distributed.ray_executor import ray_executor
    from rtl_sweep.engine import Run
    from tests.conftest import tiny_overrides

    cfg = RunConfig().with_overrides(tiny_overrides() + ["prune.target_sparsity=0.5", "prune.vectorize=on",
                                                         "data.name=digits", "model.name=mlp",
                                                         "baselines=imp_single"])
    run = Run(cfg, str(tmp_path), executor=ray_executor(address=two_gpu_nodes.address, gpus_per_actor=1))
    assert run.executor.plan.count == 2 and run.executor.plan.gpus == 1
    run.execute()
    folder = tmp_path / cfg.folder_name()
    placements = json.loads((folder / "placement.json").read_text())
    halves = [p for p in placements if p["unit"].startswith("stack[rtl-") and p["unit"].endswith("@L0")]
    assert sorted(p["unit"] for p in halves) == ["stack[rtl-0..rtl-4]@L0", "stack[rtl-5..rtl-9]@L0"]
    assert len({p["node"] for p in halves}) == 2, "the two halves ran on both GPU nodes"
    local = tmp_path / "local"
    Run(cfg, str(local), threads=1).execute()
    for f in sorted(folder.glob("ckpt/rtl-*/L*.pt")):
        a = torch.load(f, weights_only=True)["mask"]
        b = torch.load(local / cfg.folder_name() / f.relative_to(folder), weights_only=True)["mask"]
        inter = sum(int((a[n] & b[n]).sum()) for n in a)
        assert inter / sum(int((a[n] | b[n]).sum()) for n in a) >= 0.99, f
