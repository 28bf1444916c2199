"""rtl-sweep submit / jobs against a real two-node Ray cluster on 127.0.0.1 (cluster/local-cluster.sh:
a head with its dashboard plus a worker node, each its own `ray start` from this virtualenv with its
own temp dir), with and without token authentication. The job carries only the code; the nodes
already run this virtualenv, so nothing is installed. Each cluster is stopped by its own pids."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "cluster" / "local-cluster.sh"
TINY_SPACE = """\
name: tiny
base:
  data.max_per_class: 40
  prune.epochs: 1
  joint.epochs: 1
  prune.target_sparsity: 0.75
  prune.batch_size: 32
  partition.method: groups
  partition.groups: "0,1,2,3,4;5,6,7,8,9"
  baselines: []
space:
  prune.fraction: {type: float, low: 0.4, high: 0.6}
objectives:
  - {metric: balanced_accuracy, mode: max}
sampler: random
seed: 0
samples: 1
max_concurrent: 1
resources: {coordinator_cpus: 0.5, ticket_cpus: 0.5, actors: 1}
"""


def non_loopback_listeners() -> set[str]:
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    addrs = {line.split()[3] for line in out.splitlines() if line.strip()}
    return {a for a in addrs if not a.startswith(("127.", "[::ffff:127.", "[::1]"))}


def client_env(home: Path) -> dict:
    """The CLI's environment: no token from this user's home or environment unless a test adds one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH", "RAY_ADDRESS", "RAY_API"))}
    env["HOME"] = str(home)
    return env


def cli(home: Path, *args: str, env_extra: dict | None = None, timeout: float = 240):
    env = {**client_env(home), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "rtl_sweep.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


class LocalCluster:
    """cluster/local-cluster.sh start/stop, with a short state dir (Ray's socket paths live under it)."""

    def __init__(self, token: bool):
        self.dir = Path(tempfile.mkdtemp(prefix="rtlc", dir="/tmp"))
        self.token = token
        self.env = {**os.environ, "PYTHON": sys.executable,
                    "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS"):
            self.env.pop(k, None)

    def start(self) -> "LocalCluster":
        args = ["start", "--dir", str(self.dir), "--workers", "1", "--resources", '{"ticket_slot": 1}']
        out = subprocess.run(["bash", str(SCRIPT), *args] + (["--token"] if self.token else []),
                             capture_output=True, text=True, env=self.env, timeout=150)
        assert out.returncode == 0, out.stderr + out.stdout
        self.url = next(ln.split()[-1] for ln in out.stdout.splitlines() if ln.startswith("dashboard:"))
        self.token_file = self.dir / "auth_token"
        return self

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", "--dir", str(self.dir)], capture_output=True,
                       env=self.env, timeout=120)
        for pidfile in self.dir.glob("*.pid"):  # only if the script could not: our own pids
            try:
                os.kill(int(pidfile.read_text()), 9)
            except (ValueError, ProcessLookupError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster(request):
    before = non_loopback_listeners()
    c = LocalCluster(token=request.param).start()
    try:
        assert non_loopback_listeners() <= before, "the cluster listens on the loopback only"
        yield c
    finally:
        c.stop()
    assert not any((c.dir).glob("*.pid"))


def submit_and_follow(home: Path, c: LocalCluster, space: Path, storage: Path, submit_args=(), auth=()):
    sub = cli(home, "submit", str(space), "--address", c.url, "--storage", str(storage), *submit_args, *auth)
    assert sub.returncode == 0, sub.stderr
    job_id = sub.stdout.strip().splitlines()[-1]
    assert job_id.startswith("rtl-tiny")
    follow = cli(home, "jobs", "status", job_id, "--address", c.url, "--follow", *auth)
    return job_id, follow


def tiny_space(tmp_path: Path) -> Path:
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    return space


def one_error_line(result) -> str:
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    return errors[0]


@pytest.mark.slow
@pytest.mark.parametrize("cluster", [False], indirect=True)
def test_submit_follow_query_and_unwritable_storage(cluster, tmp_path):
    space, storage = tiny_space(tmp_path), tmp_path / "shared"
    job_id, follow = submit_and_follow(tmp_path, cluster, space, storage)
    assert follow.returncode == 0, follow.stderr + follow.stdout
    assert f"job {job_id}: SUCCEEDED" in follow.stdout
    query = cli(tmp_path, "query", str(storage / "tiny"), "select count(*) from trials")
    assert query.returncode == 0, query.stderr
    assert query.stdout.splitlines()[2].strip() == "1"
    logs = cli(tmp_path, "jobs", "logs", job_id, "--address", cluster.url)
    assert "Running entrypoint" in logs.stdout and "--address auto" in logs.stdout

    # A --storage the cluster cannot write (a path under a file): the job fails fast, in one line,
    # and following it shows the tail of its log.
    (tmp_path / "a-file").write_text("")
    _, bad = submit_and_follow(tmp_path, cluster, space, tmp_path / "a-file" / "sweeps", ["--name", "tiny2"])
    assert bad.returncode == 2 and "FAILED" in bad.stdout and "Traceback" not in bad.stderr
    tail, last = bad.stderr.rstrip().rsplit("\n", 1)
    assert "last lines of the job's log" in tail and "Running entrypoint" in tail
    assert last.startswith("error: job ") and "cannot write to --root" in last


@pytest.mark.slow
@pytest.mark.parametrize("cluster", [True], indirect=True)
def test_token_auth_submit_needs_the_right_token(cluster, tmp_path):
    space, storage = tiny_space(tmp_path), tmp_path / "shared"
    token = cluster.token_file.read_text().strip()
    assert oct(cluster.token_file.stat().st_mode & 0o777) == "0o600"

    missing = cli(tmp_path, "submit", str(space), "--address", cluster.url, "--storage", str(storage))
    assert "requires a token" in one_error_line(missing)

    wrong_file = tmp_path / "wrong_token"
    wrong_file.write_text("0" * 64)
    wrong_file.chmod(0o600)
    wrong = cli(tmp_path, "submit", str(space), "--address", cluster.url, "--storage", str(storage),
                "--token-file", str(wrong_file))
    assert "refused the token" in one_error_line(wrong)
    wrong_env = cli(tmp_path, "jobs", "status", "rtl-x", "--address", cluster.url,
                    env_extra={"RAY_AUTH_TOKEN": "1" * 64})
    assert "refused the token from RAY_AUTH_TOKEN" in one_error_line(wrong_env)
    for r in (missing, wrong, wrong_env):
        assert token not in r.stdout + r.stderr and "0" * 64 not in r.stderr and "1" * 64 not in r.stderr

    job_id, follow = submit_and_follow(tmp_path, cluster, space, storage,
                                       auth=["--token-file", str(cluster.token_file)])
    assert follow.returncode == 0, follow.stderr + follow.stdout
    assert token not in follow.stdout + follow.stderr
    query = cli(tmp_path, "query", str(storage / "tiny"), "select count(*) from trials")
    assert query.stdout.splitlines()[2].strip() == "1"
    # The token from the environment works as well (the way KubeRay hands it to pods).
    status = cli(tmp_path, "jobs", "status", job_id, "--address", cluster.url, env_extra={"RAY_AUTH_TOKEN": token})
    assert status.returncode == 0 and "SUCCEEDED" in status.stdout


def test_unreachable_address_fails_fast_in_one_line(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    r = cli(tmp_path, "submit", str(space), "--address", f"http://127.0.0.1:{port}", "--storage", str(tmp_path))
    assert "nothing listens at" in one_error_line(r)
    r = cli(tmp_path, "jobs", "status", "rtl-x", "--address", f"127.0.0.1:{port}")
    assert "nothing listens at" in one_error_line(r)


def test_job_carries_only_the_package_and_the_space(tmp_path):
    from rtl_sweep.cluster.jobs import EXCLUDES, stage_code, sweep_entrypoint
    from rtl_sweep.cli import build_parser
    import shlex
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    staged = tmp_path / "staged"
    staged.mkdir()
    rel = stage_code(str(space), str(staged))
    assert sorted(p.name for p in staged.iterdir()) == ["rtl_sweep", "spaces"]
    assert (staged / rel).read_text() == TINY_SPACE and (staged / "rtl_sweep" / "cli.py").is_file()
    assert not list(staged.rglob("__pycache__")) and not list(staged.rglob("*.pyc"))
    assert {".venv", "rtl_runs", "sweeps"} <= set(EXCLUDES)
    argv = shlex.split(sweep_entrypoint(rel, "/mnt/results", "tiny", samples=2, quiet=True))
    assert argv[:3] == ["python", "-m", "rtl_sweep.cli"]
    args = build_parser().parse_args(argv[3:])
    assert (args.command, args.root, args.name, args.samples, args.address) == ("sweep", "/mnt/results", "tiny", 2, "auto")
