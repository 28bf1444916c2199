"""Shared fixtures: a tiny real run config and a loopback-only local Ray."""

import os

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")


def tiny_overrides() -> list[str]:
    """Real MNIST, 60 images per class, 1 epoch per round, 4 levels: a run in a few seconds."""
    return ["data.max_per_class=60", "prune.epochs=1", "joint.epochs=1", "prune.target_sparsity=0.875",
            "prune.batch_size=32"]


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models: one intra-op thread is as fast, and far faster when the 2 cores are shared (two
    threads spin-waiting on a busy machine made one run 14 s instead of 3 s). Equal thread counts
    also make the local and Ray executors bit-identical (actors hold one CPU, one thread)."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_cfg():
    from rtl_sweep.config import RunConfig
    return RunConfig().with_overrides(tiny_overrides())


@pytest.fixture
def ray_local():
    """A local Ray, 127.0.0.1 only, 2 CPUs (this machine's). Started on first use and kept for the
    session (each start costs seconds); a test that needs another cluster shuts it down first."""
    import ray
    from rtl_sweep.distributed.ray_init import init_ray
    if not ray.is_initialized():
        init_ray(num_cpus=2)
    yield ray


def pytest_sessionfinish(session, exitstatus):
    import sys
    if "ray" in sys.modules:
        import ray
        if ray.is_initialized():
            ray.shutdown()
