"""Ray jobs for sweeps: the job server's address, its token, the code the job carries, the job's life.

    python -c "from rtl_sweep.cluster.jobs import sweep_entrypoint; print(sweep_entrypoint('spaces/default.yaml', '/mnt/results', 'default'))"

A submitted sweep is an ordinary `rtl-sweep sweep` run by the cluster: the job's working_dir is a
fresh copy of the rtl_sweep package and the space file (never a virtualenv or a results folder),
and the entrypoint joins the cluster (`--address auto`) and writes to the shared --root.

Token authentication (Ray >= 2.52, clusters started with RAY_AUTH_MODE=token): the job server wants
`Authorization: Bearer <token>` on every request. The token is read, in Ray's own order, from
--token-file, RAY_AUTH_TOKEN, the file RAY_AUTH_TOKEN_PATH names, or ~/.ray/auth_token. It is only
ever put in that header: never printed, logged or passed to the job.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import stat
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from rtl_sweep.errors import ClusterError
from rtl_sweep.net import unreachable

DEFAULT_PORT = 8265         # the dashboard, which serves the job API
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
# Never shipped to the cluster, whatever the working_dir holds (it holds only a package copy).
EXCLUDES = [".venv", "**/.venv", "rtl_runs", "sweeps", "**/__pycache__", "*.pyc", "*.egg-info", ".git"]


# ---- where the job server is and how to talk to it -------------------------------------------
def job_server_url(address: str | None) -> str:
    """http(s)://HOST:PORT from what the user typed (a bare HOST:PORT means http)."""
    address = (address or os.environ.get("RAY_API_SERVER_ADDRESS") or "").strip().rstrip("/")
    if not address:
        raise ClusterError("no cluster address given", "pass --address http://HEAD:8265 (the dashboard port)")
    if address.startswith("ray://") or address == "auto":
        raise ClusterError(f"{address} is not a job server address",
                           "jobs go to the dashboard: --address http://HEAD:8265")
    if "://" not in address:
        address = "http://" + address
    parsed = urlparse(address)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ClusterError(f"cannot read the cluster address {address!r}", "write it as http://HEAD:8265")
    return address if parsed.port else f"{address}:{DEFAULT_PORT}"


def probe(url: str) -> None:
    """Fail within seconds when nothing listens there: the SDK would retry for a long time."""
    parsed = urlparse(url)
    why = unreachable(parsed.hostname, parsed.port)
    if why:
        raise ClusterError(f"nothing listens at {url} ({why})",
                           "start the cluster (cluster/local-cluster.sh start, ray up ...) or fix --address") from None


@dataclass(frozen=True)
class Token:
    value: str = field(repr=False)   # the secret: never in a repr, a message or a log
    source: str = ""                 # where it came from, safe to show


def find_token(token_file: str | None = None) -> Token | None:
    """The cluster token from --token-file, RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token."""
    if token_file:
        return Token(_read_token(Path(token_file).expanduser(), "--token-file"), f"--token-file {token_file}")
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        value = os.environ["RAY_AUTH_TOKEN"].strip()
        if not _printable_word(value):
            raise ClusterError("RAY_AUTH_TOKEN does not hold a token (one word of printable characters)",
                               "set it to the cluster's token (`ray get-auth-token` on the head node)")
        return Token(value, "RAY_AUTH_TOKEN")
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        path = os.environ["RAY_AUTH_TOKEN_PATH"]
        return Token(_read_token(Path(path).expanduser(), "RAY_AUTH_TOKEN_PATH"), f"RAY_AUTH_TOKEN_PATH {path}")
    default = Path.home() / ".ray" / "auth_token"
    if default.is_file():
        return Token(_read_token(default, "the default token file"), str(default))
    return None


def _printable_word(text: str) -> bool:
    return text.isprintable() and not any(c.isspace() for c in text)


def _read_token(path: Path, what: str) -> str:
    try:
        text = path.read_text().strip()
        mode = path.stat().st_mode
    except OSError as e:
        raise ClusterError(f"cannot read {what} {path} ({e.strerror or e})",
                           "pass a file that holds the cluster's token") from None
    if not text:
        raise ClusterError(f"{what} {path} is empty", "write the cluster's token into it (ray get-auth-token)")
    if not _printable_word(text):  # say so without showing it: it may be a secret, or a wrong file
        raise ClusterError(f"{what} {path} does not hold a token (one word of printable characters)",
                           "pass the file `ray get-auth-token` or cluster/local-cluster.sh wrote")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(f"warning: token file {path} is readable by others; chmod 600 {path}", file=sys.stderr)
    return text


def connect(address: str | None, token_file: str | None = None):
    """(JobSubmissionClient, the token it sends or None), or one ClusterError line saying what is
    wrong. The token is read once: its checks (and any permissions warning) happen once."""
    url = job_server_url(address)
    probe(url)
    token = find_token(token_file)
    headers = {"Authorization": f"Bearer {token.value}"} if token else None
    from ray.job_submission import JobSubmissionClient
    for noisy in ("ray.dashboard.modules.dashboard_sdk", "ray._private.runtime_env.packaging"):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # not "uploading package ..." lines
    return _call(lambda: JobSubmissionClient(url, headers=headers), url, token), token


def _call(fn, url: str, token: Token | None):
    """Run one SDK call; turn its failures (auth above all) into one line that never holds the token."""
    from ray.exceptions import AuthenticationError
    try:
        return fn()
    except AuthenticationError as e:
        text = getattr(e, "message", "") or ""
        if token is None or "Authentication required" in text:
            raise ClusterError(f"the cluster at {url} requires a token (it runs with RAY_AUTH_MODE=token)",
                               "pass --token-file FILE, or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH") from None
        raise ClusterError(f"the cluster at {url} refused the token from {token.source}",
                           "use the cluster's own token (`ray get-auth-token` on the head node)") from None
    except (ConnectionError, TimeoutError, OSError) as e:
        raise ClusterError(f"could not talk to the job server at {url} ({_first_line(e, token)})",
                           "check --address points at the dashboard port (8265 by default)") from None
    except RuntimeError as e:
        msg = _first_line(e, token)
        if "does not exist" in msg or "404" in msg:
            raise ClusterError(f"the job server at {url} says: {msg}",
                               "check the job id (rtl-sweep prints it at submit) and --address") from None
        raise ClusterError(f"the job server at {url} says: {msg}", "") from None


def _first_line(e: BaseException, token: Token | None) -> str:
    text = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return text.replace(token.value, "<token>") if token and token.value else text


# ---- what a submitted sweep is ---------------------------------------------------------------
def sweep_entrypoint(space_rel: str, storage: str, name: str, samples: int | None = None,
                     max_concurrent: int | None = None, seed: int | None = None, quiet: bool = False) -> str:
    """The job's command: a real `rtl-sweep sweep` that joins the cluster it runs on."""
    argv = ["python", "-m", "rtl_sweep.cli", "sweep", space_rel, "--root", storage, "--name", name,
            "--address", "auto"]
    for flag, v in (("--samples", samples), ("--max-concurrent", max_concurrent), ("--seed", seed)):
        if v is not None:
            argv += [flag, str(v)]
    return shlex.join(argv + (["-q"] if quiet else []))


def stage_code(space: str, into: str) -> str:
    """Copy the rtl_sweep package and the space file into `into`; return the space's relative path."""
    package = Path(__file__).parents[1]  # rtl_sweep/ (this file is rtl_sweep/cluster/jobs.py)
    shutil.copytree(package, Path(into) / "rtl_sweep",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    rel = f"spaces/{Path(space).name}"
    (Path(into) / "spaces").mkdir()
    shutil.copy2(space, Path(into) / rel)
    return rel


def storage_path(storage: str) -> str:
    """A bucket URI as given (credentials in it refused), else a folder made absolute."""
    if "://" in storage:
        from rtl_sweep.store import refuse_secrets
        refuse_secrets(storage)
        return storage.rstrip("/")
    return str(Path(storage).expanduser().absolute())


def job_id_for(name: str) -> str:
    return f"rtl-{re.sub(r'[^A-Za-z0-9_.-]', '-', name)[:40]}-{uuid.uuid4().hex[:8]}"


def submit(client, url: str, token: Token | None, space: str, storage: str, name: str, **sweep_opts) -> str:
    staging = tempfile.mkdtemp(prefix="rtl-sweep-job-")
    try:
        rel = stage_code(space, staging)
        runtime_env = {"working_dir": staging, "excludes": EXCLUDES}
        return _call(lambda: client.submit_job(
            entrypoint=sweep_entrypoint(rel, storage, name, **sweep_opts), runtime_env=runtime_env,
            submission_id=job_id_for(name),
            metadata={"rtl_sweep_name": name, "rtl_sweep_storage": storage}), url, token)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---- a job's life ----------------------------------------------------------------------------
def status(client, url, token, job_id: str):
    return _call(lambda: client.get_job_info(job_id), url, token)


def logs(client, url, token, job_id: str) -> str:
    return _call(lambda: client.get_job_logs(job_id), url, token)


def wait(client, url, token, job_id: str, every_s: float = 2.0, on_change=None):
    """Poll until the job ends; call on_change(info) whenever its status changes. Returns the info."""
    last = None
    while True:
        info = status(client, url, token, job_id)
        now = state(info)
        if now != last and on_change:
            on_change(info)
        last = now
        if now in TERMINAL:
            return info
        time.sleep(every_s)


def state(info) -> str:
    return str(getattr(info.status, "value", info.status))


def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def stop(client, url, token, job_id: str) -> bool:
    return _call(lambda: client.stop_job(job_id), url, token)
