"""Sweeps on an S3-compatible bucket, with no folder shared between nodes: a real S3 server (moto's
server mode, the one Ray's own storage tests use) started here on 127.0.0.1, a real 2-node Ray
cluster on the loopback, real Optuna. Everything is read back with pyarrow's S3 file system and
boto3, not the project's code. Credentials come the standard way (AWS_* variables,
AWS_ENDPOINT_URL), as a user's would."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import optuna
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import yaml

from rtl_sweep.cli import main
from rtl_sweep.errors import RtlError
from tests.test_resume import FINAL, OVER, SPACE, sweep_killed_when

BUCKET = "rtl-sweeps"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server on 127.0.0.1 with one bucket; the AWS environment points at it (Ray nodes
    started after this inherit it). Stopped, and the environment restored, after the module."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing-secret", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        deadline = time.monotonic() + 60
        while True:  # until the server answers (it takes a second or two to import)
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("moto's S3 server did not start")
                time.sleep(0.2)
        import boto3
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield proc
    finally:
        proc.kill()
        proc.wait()
        for k, v in before.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def bucket_fs():
    """pyarrow's own S3 file system, from the AWS environment (no project code)."""
    fs, _ = pafs.FileSystem.from_uri(f"s3://{BUCKET}")
    return fs


def bucket_study(name: str, tmp_path) -> list:
    """The sweep's study.db, downloaded with boto3 and opened with Optuna."""
    import boto3
    local = tmp_path / f"{name}-study.db"
    boto3.client("s3").download_file(BUCKET, f"sweeps/{name}/study.db", str(local))
    return optuna.load_study(study_name=name, storage=f"sqlite:///{local}").get_trials()


def trial_table(name: str):
    return pq.read_table(f"{BUCKET}/sweeps/{name}/tables/trials", filesystem=bucket_fs()).to_pandas()


def write_space(folder, name: str, samples: int) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(dict(SPACE, name=name, samples=samples)))
    return str(path)


def test_a_uri_with_credentials_is_refused_in_one_line(s3, tmp_path, capsys):
    space = write_space(tmp_path, "secret", 1)
    code = main(["sweep", space, "--root", f"s3://AKIAEXAMPLE:hunter2@{BUCKET}/sweeps"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "carries credentials" in err, err
    assert "hunter2" not in err and "AKIAEXAMPLE" not in err
    assert main(["sweep", space, "--root", f"s3://{BUCKET}/sweeps?secret_key=hunter2"]) != 0
    assert "hunter2" not in capsys.readouterr().err
    from rtl_sweep.cluster.jobs import storage_path  # `submit --storage`: a bucket as given, creds refused
    assert storage_path(f"s3://{BUCKET}/sweeps/") == f"s3://{BUCKET}/sweeps"
    with pytest.raises(RtlError, match="carries credentials"):
        storage_path(f"s3://AKIAEXAMPLE:hunter2@{BUCKET}/sweeps")


def test_two_node_sweep_on_a_bucket_with_no_shared_folder(s3, tmp_path, monkeypatch, capsys):
    import ray
    from tests.test_multinode import _cluster
    # The driver's node has no CPU: every trial runs on the worker node, whose Ray temp folder is
    # its own; the driver's current folder is a third one. Nothing is shared but the bucket.
    worker_tmp = tempfile.mkdtemp(prefix="rtlw-", dir="/tmp")  # short: Ray's socket paths must fit
    nodes = _cluster({"num_cpus": 0}, {"temp_dir": worker_tmp})
    try:
        cluster = next(nodes)
        worker = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU"))
        space = write_space(tmp_path / "spaces", "onbucket", 2)
        (tmp_path / "driver").mkdir()
        monkeypatch.chdir(tmp_path / "driver")
        tracking = f"sqlite:///{tmp_path / 'tracking.db'}"  # MLflow, on the driver's side
        assert main(["sweep", space, "--root", f"s3://{BUCKET}/sweeps/", "--address", cluster.address,
                     "-q", "--mlflow", tracking]) == 0
    finally:
        next(nodes, None)
        shutil.rmtree(worker_tmp, ignore_errors=True)
    out = capsys.readouterr().out
    assert "sweep onbucket: 2 trials (" in out and "failed" not in out, out
    assert not any((tmp_path / "driver").iterdir())  # nothing written where the driver runs

    t = trial_table("onbucket")
    assert len(t) == 2 and t.trial_id.is_unique and set(t.status) <= FINAL, t[["trial_id", "status"]]
    assert sorted(t.trial_number) == [0, 1]
    trials = bucket_study("onbucket", tmp_path)
    assert len(trials) == 2 and {s.state for s in trials} <= OVER
    fs = bucket_fs()
    for r in t.itertuples():  # each trial's run folder: its rounds, and placement on the worker
        run = f"{BUCKET}/sweeps/onbucket/trials/rtl-{r.run_id}"
        rounds = pq.read_table(f"{run}/tables/rounds", filesystem=fs)
        assert rounds.num_rows > 0 and set(rounds.column("level").to_pylist()) == set(range(r.levels))
        with fs.open_input_stream(f"{run}/placement.json") as f:

            assert {p["node"] for p in json.loads(f.read())} == {worker}
    tune_state = fs.get_file_info(pafs.FileSelector(f"{BUCKET}/sweeps/onbucket/tune"))
    assert any(os.path.basename(i.path).startswith("experiment_state") for i in tune_state)
    # MLflow (Tune's MLflowLoggerCallback): one run per trial, params = its config, metrics per level
    from mlflow.tracking import MlflowClient
    client = MlflowClient(tracking_uri=tracking)
    runs = client.search_runs([client.get_experiment_by_name("onbucket").experiment_id])
    assert len(runs) == 2
    by_fraction = {r.param_prune_fraction: r for r in t.itertuples()}
    for run in runs:
        trial = by_fraction[float(run.data.params["prune.fraction"])]
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "sparsity")]
        assert steps == list(range(1, trial.levels + 1)), steps
    # the reading commands on the bucket URI
    uri = f"s3://{BUCKET}/sweeps/onbucket"
    assert main(["results", uri]) == 0
    assert "trial" in capsys.readouterr().out
    assert main(["query", uri, "select count(*) as n from trials where status <> 'failed'",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 2}]
    # no secret in anything the sweep wrote
    for info in fs.get_file_info(pafs.FileSelector(f"{BUCKET}/sweeps/onbucket", recursive=True)):
        if info.type == pafs.FileType.File and info.size < 5_000_000:
            with fs.open_input_stream(info.path) as f:
                assert b"testing-secret" not in f.read(), info.path


def test_driver_killed_mid_sweep_resumes_from_another_folder(s3, tmp_path, monkeypatch, capsys):
    """`rtl-sweep sweep --root s3://...` SIGKILLed (driver, its Ray and workers) once its first
    trial's row is on the bucket; `rtl-sweep resume s3://...` from another, empty folder (as on a
    new head node) finishes it: no trial lost, none run twice, finished rows untouched."""
    fs = bucket_fs()
    here, name = tmp_path / "a", "killed"
    space = write_space(here, name, 2)
    rows_dir = f"{BUCKET}/sweeps/{name}/tables/trials"

    def first_row() -> bool:
        info = fs.get_file_info(pafs.FileSelector(rows_dir, allow_not_found=True))
        return any(i.path.endswith(".parquet") and not os.path.basename(i.path).startswith(".") for i in info)
    sweep_killed_when(here, [space, "--root", f"s3://{BUCKET}/sweeps", "-q"], first_row)
    finished = {i.path: fs.open_input_stream(i.path).read()
                for i in fs.get_file_info(pafs.FileSelector(rows_dir)) if i.path.endswith(".parquet")}
    assert finished

    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "b")
    assert main(["resume", f"s3://{BUCKET}/sweeps/{name}", "-q"]) == 0
    out = capsys.readouterr().out
    summary = out[out.index(f"sweep {name}: "):].splitlines()[0]
    print(f"resumed after the kill ({len(finished)} row(s) on the bucket at the kill): {summary}",
          file=sys.stderr)
    assert "2 trials (" in summary and "failed" not in summary, summary
    t = trial_table(name)
    assert len(t) == 2 and t.trial_id.is_unique and set(t.status) <= FINAL, t[["trial_id", "status"]]
    assert sorted(t.trial_number) == [0, 1]
    trials = bucket_study(name, tmp_path)
    assert len(trials) == 2 and {s.state for s in trials} <= OVER, [s.state for s in trials]
    assert len({s.params["prune.fraction"] for s in trials}) == 2  # no trial drawn twice
    for path, data in finished.items():  # rows written before the kill are never rewritten
        assert fs.open_input_stream(path).read() == data
    assert not any((tmp_path / "b").iterdir())


class Endpoint:
    """A TCP relay in front of the S3 server: what the run sees as its endpoint. `stop()` closes it
    and every open connection, as a server that goes down mid-run; the server itself keeps what it
    holds, so the test can read back what was written before."""

    def __init__(self, port: int):
        import threading
        self.target, self.socks, self.open = port, [], True
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading
        while self.open:
            try:
                client = self.listener.accept()[0]
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while data := a.recv(1 << 16):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.open = False
        self.listener.close()
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_a_bucket_that_stops_answering_fails_the_run_in_one_line_and_keeps_what_was_written(s3, tmp_path):
    """`rtl-sweep run --output s3://...` (what each trial runs) while its S3 endpoint goes down once
    level 0 is on the bucket: the command fails with one line naming the write and the fix, and every
    object written before is still whole (each is published only once complete)."""
    import rtl_sweep
    server_port = int(os.environ["AWS_ENDPOINT_URL"].rsplit(":", 1)[1])
    relay = Endpoint(server_port)
    env = dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{relay.port}", PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(rtl_sweep.__file__)), os.environ.get("PYTHONPATH", "")]))
    sets = [f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in SPACE["base"].items()
            if k != "baselines"] + ["prune.target_sparsity=0.875"]
    argv = [sys.executable, "-m", "rtl_sweep.cli", "run", "--output", f"s3://{BUCKET}/runs", "-q",
            *[x for s in sets for x in ("--set", s)]]
    fs, root = bucket_fs(), f"{BUCKET}/runs"  # straight to the server, not through the relay
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def level0():
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        return [i for i in infos if i.type == pafs.FileType.File and not os.path.basename(i.path).startswith(".")]
    deadline = time.monotonic() + 120
    while not any(i.path.endswith("tables/rounds/L000.parquet") for i in level0()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)  # polling for the object; the stop point is the object, not this wait
    relay.stop()
    written = {i.path: fs.open_input_stream(i.path).read() for i in level0()}
    out, err = proc.communicate(timeout=300)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert proc.returncode != 0 and len(errors) == 1, err[-3000:]
    print(errors[0], file=sys.stderr)
    # the endpoint may vanish during a write or during the next level's read of its checkpoint
    assert ("cannot write s3://" in errors[0] or "cannot read s3://" in errors[0]) and "fix:" in errors[0] and "testing-secret" not in err
    assert "/tables/runs/" not in errors[0]  # the write that stopped the run, not the status row after it
    for path, data in written.items():  # nothing written before the stop is lost or damaged
        assert fs.open_input_stream(path).read() == data, path
    rounds = pq.read_table(next(p for p in written if p.endswith("L000.parquet")), filesystem=fs)
    assert rounds.num_rows > 0
