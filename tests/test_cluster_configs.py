"""The cluster/ files: each parses, has the fields its tool needs, names the image the Dockerfile
builds, and every rtl-sweep command in it (entrypoints, start commands, the examples in comments)
is a real subcommand whose arguments parse."""

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from rtl_sweep.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "cluster"
YAMLS = ["ray-up-aws.yaml", "kuberay-raycluster.yaml", "kuberay-rayjob.yaml"]
COMMAND_FILES = YAMLS + ["local-cluster.sh"]   # the Dockerfile runs no rtl-sweep command


def load(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


def dockerfile_image() -> str:
    m = re.search(r'rtl-sweep\.image="([^"]+)"', (CLUSTER / "Dockerfile").read_text())
    assert m, "the Dockerfile labels the image it builds (rtl-sweep.image=...)"
    return m.group(1)


def walk(node, key=None):
    """(key, value) for every mapping entry and list item, depth first."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            yield from walk(v, k)
    elif isinstance(node, list):
        for v in node:
            yield key, v
            yield from walk(v, key)


def k8s_containers(group: dict) -> list[dict]:
    return group["template"]["spec"]["containers"]


def has_gpu(group: dict) -> bool:
    return any(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu") for c in k8s_containers(group))


def test_dockerfile_builds_on_ray_2_58_py311_and_pins_torch():
    text = (CLUSTER / "Dockerfile").read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    base = next(ln for ln in lines if ln.startswith("ARG BASE=")).split("=", 1)[1]
    assert base.startswith("rayproject/ray:2.58.0-py311") and base.endswith("-gpu")  # the CUDA variant
    assert "FROM ${BASE}" in lines
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for pin in [d for d in deps if d.startswith(("torch==", "torchvision=="))]:
        assert f'"{pin}"' in text, f"the image installs {pin} as pyproject.toml pins it"
    assert "pip install --no-cache-dir ." in text
    copied = [ln.split()[-2] for ln in lines if ln.startswith("COPY")]
    assert not {".venv", "rtl_runs", "sweeps", "."} & set(copied), "never copy a venv or results into the image"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert dockerfile_image().endswith(":" + version)


def test_ray_up_has_cpu_head_and_gpu_worker_types():
    cfg = load("ray-up-aws.yaml")
    for key in ("cluster_name", "provider", "available_node_types", "head_node_type",
                "head_start_ray_commands", "worker_start_ray_commands"):
        assert cfg.get(key), key
    assert cfg["provider"]["type"] == "aws"
    types = cfg["available_node_types"]
    assert cfg["head_node_type"] in types
    assert not types[cfg["head_node_type"]]["resources"].get("GPU")
    gpu = [t for t in types.values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu and any(t["node_config"]["InstanceType"].startswith("g5.") for t in gpu)
    assert cfg["docker"]["image"] == dockerfile_image()
    starts = " ".join(cfg["head_start_ray_commands"] + cfg["worker_start_ray_commands"])
    assert starts.count("RAY_AUTH_MODE=token") == 2, "head and workers both run with token auth"
    assert "--dashboard-host=0.0.0.0" not in starts


def test_kuberay_raycluster_has_head_and_gpu_worker_group():
    cfg = load("kuberay-raycluster.yaml")
    assert cfg["apiVersion"] == "ray.io/v1" and cfg["kind"] == "RayCluster"
    spec = cfg["spec"]
    assert spec["rayVersion"] == "2.58.0" and spec["authOptions"]["mode"] == "token"
    assert k8s_containers(spec["headGroupSpec"])
    assert not has_gpu(spec["headGroupSpec"])
    assert any(has_gpu(g) for g in spec["workerGroupSpecs"])


def test_kuberay_rayjob_runs_a_sweep_on_shared_storage():
    cfg = load("kuberay-rayjob.yaml")
    assert cfg["apiVersion"] == "ray.io/v1" and cfg["kind"] == "RayJob"
    spec = cfg["spec"]
    args = build_parser().parse_args(shlex.split(spec["entrypoint"])[1:])
    assert args.command == "sweep" and args.root == "/mnt/results" and args.address == "auto"
    assert (ROOT / args.space).is_file()
    cluster = spec["rayClusterSpec"]
    assert cluster["authOptions"]["mode"] == "token"
    assert any(has_gpu(g) for g in cluster["workerGroupSpecs"])
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    for g in groups:  # every node mounts the results volume at the --root path
        mounts = [m["mountPath"] for c in k8s_containers(g) for m in c.get("volumeMounts", [])]
        assert args.root in mounts


@pytest.mark.parametrize("name", YAMLS)
def test_every_image_is_the_one_the_dockerfile_builds(name):
    images = [v for k, v in walk(load(name)) if k == "image"]
    assert images and set(images) == {dockerfile_image()}


def rtl_sweep_commands(text: str) -> list[str]:
    """Every `rtl-sweep SUBCOMMAND ...` in a file, comments included (they are the examples users
    copy); a trailing backslash continues the command on the next line."""
    lines = [re.sub(r"^\s*#\s?", "", ln) for ln in text.splitlines()]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    out = []
    for m in re.finditer(r"(?:^|[\s\"'])(rtl-sweep[ \t]+[a-z][^\n;&|#]*)", joined, re.M):
        out.append(m.group(1).strip())
    return out


@pytest.mark.parametrize("name", COMMAND_FILES)
def test_every_rtl_sweep_command_is_real_and_parses(name):
    text = (CLUSTER / name).read_text()
    commands = rtl_sweep_commands(text)
    for command in commands:
        argv = shlex.split(command)
        assert argv[1] in COMMANDS, f"{name}: {command!r} is not an rtl-sweep subcommand"
        args = build_parser().parse_args(argv[1:])  # argparse exits (SystemExit) on a bad argument
        if getattr(args, "space", None):
            assert (ROOT / args.space).is_file(), f"{name}: {command!r} names a missing space file"
    assert commands, f"{name} shows how to run a sweep"
