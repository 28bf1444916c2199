"""rtl-sweep submit SPACE.yaml / rtl-sweep jobs status|logs|stop JOB_ID: sweeps as Ray jobs.

    rtl-sweep submit search_spaces/default.yaml --address http://HEAD:8265 --storage /mnt/results
    rtl-sweep jobs status JOB_ID --address http://HEAD:8265 --follow
"""

from __future__ import annotations

import sys
import time

from rtl_sweep.errors import ClusterError

SUBMIT_EXAMPLES = """examples:
  rtl-sweep submit search_spaces/default.yaml --address http://127.0.0.1:8265 --storage /mnt/results
  rtl-sweep submit search_spaces/collapse_study.yaml --address http://HEAD:8265 --storage /mnt/results \\
      --samples 12 --max-concurrent 4 --name collapse1 --token-file ~/.ray/auth_token
  rtl-sweep jobs status JOB_ID --address http://HEAD:8265 --follow     # then:
  rtl-sweep results /mnt/results/default

--storage must be a folder every node can write (NFS, a mounted bucket, a PVC). The job carries
only the rtl_sweep package and the space file; the nodes need the project's dependencies (the
cluster/Dockerfile image). A cluster with RAY_AUTH_MODE=token wants its token: --token-file, or
RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token.
"""

JOBS_EXAMPLES = """examples:
  rtl-sweep jobs status JOB_ID --address http://HEAD:8265 --follow   # wait; a failed job shows its log tail
  rtl-sweep jobs logs JOB_ID --address http://HEAD:8265 --follow
  rtl-sweep jobs stop JOB_ID --address http://HEAD:8265
"""


def configure(p, name: str) -> None:
    if name == "submit":
        p.description = ("Submit a sweep to a Ray cluster as a job: the cluster runs `rtl-sweep sweep` and writes "
                         "the sweep folder to --storage. Prints the job id and returns.")
        p.epilog = SUBMIT_EXAMPLES
        p.add_argument("space", help="search-space YAML (see search_spaces/)")
        p.add_argument("--storage", default="/mnt/results",
                       help="folder shared by the cluster's nodes that receives <storage>/<name>/ (default /mnt/results)")
        p.add_argument("--samples", type=int, default=None, help="number of trials (default: the file's)")
        p.add_argument("--max-concurrent", type=int, default=None, help="trials at once (default: the file's)")
        p.add_argument("--seed", type=int, default=None, help="sampler seed (default: the file's)")
        p.add_argument("--name", default=None, help="sweep name = folder name (default: the file's name)")
        p.add_argument("--quiet", "-q", action="store_true", help="no per-level progress in the job's log")
        p.set_defaults(handler=submit_main)
    else:
        p.description = "Status, logs or stop of a job `rtl-sweep submit` started."
        p.epilog = JOBS_EXAMPLES
        p.add_argument("action", choices=["status", "logs", "stop"], help="what to do")
        p.add_argument("job_id", help="the id `rtl-sweep submit` printed")
        p.add_argument("--follow", "-f", action="store_true",
                       help="wait until the job ends (logs: stream them), then print its final status")
        p.set_defaults(handler=jobs_main)
    p.add_argument("--address", default=None,
                   help="the cluster's job server, http://HEAD:8265 (default: $RAY_API_SERVER_ADDRESS)")
    p.add_argument("--token-file", default=None,
                   help="file holding the cluster's auth token (default: RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, "
                        "~/.ray/auth_token)")


def submit_main(args) -> int:
    from rtl_sweep.cluster import jobs
    from rtl_sweep.sweep.space import load_space
    # Check the space here, where a mistake costs a second, not a job start on the cluster.
    spec = load_space(args.space, {"samples": args.samples, "max_concurrent": args.max_concurrent,
                                   "seed": args.seed})
    name = args.name or spec.name
    storage = jobs.storage_path(args.storage)
    url = jobs.job_server_url(args.address)
    client, token = jobs.connect(url, args.token_file)
    job_id = jobs.submit(client, url, token, args.space, storage, name, samples=args.samples,
                         max_concurrent=args.max_concurrent, seed=args.seed, quiet=args.quiet)
    print(job_id)
    print(f"sweep {name} -> {storage}/{name}\n"
          f"follow:  rtl-sweep jobs status {job_id} --address {url} --follow\n"
          f"results: rtl-sweep results {storage}/{name}", file=sys.stderr)
    return 0


def jobs_main(args) -> int:
    from rtl_sweep.cluster import jobs
    url = jobs.job_server_url(args.address)
    client, token = jobs.connect(url, args.token_file)
    if args.action == "stop":
        stopped = jobs.stop(client, url, token, args.job_id)
        print(f"job {args.job_id}: " + ("stop requested" if stopped else "already ended"))
        return 0
    if args.action == "logs":
        if not args.follow:
            print(jobs.logs(client, url, token, args.job_id), end="")
            return 0
        info = _stream_logs(jobs, client, url, token, args.job_id)
        return _final(jobs, client, url, token, info, show_tail=False)
    if not args.follow:
        info = jobs.status(client, url, token, args.job_id)
        print(_line(jobs, info))
        return 0
    info = jobs.wait(client, url, token, args.job_id,
                     on_change=lambda i: print(f"job {i.submission_id}: {jobs.state(i)}", file=sys.stderr, flush=True))
    return _final(jobs, client, url, token, info, show_tail=True)


def _stream_logs(jobs, client, url, token, job_id: str):
    """Print the log as it grows (polling: works through proxies that drop websockets)."""
    shown = 0
    while True:
        info = jobs.status(client, url, token, job_id)
        text = jobs.logs(client, url, token, job_id)  # after the status: an ended job's log is whole
        print(text[shown:], end="", flush=True)
        shown = len(text)
        if jobs.state(info) in jobs.TERMINAL:
            return info
        time.sleep(2.0)


def _final(jobs, client, url, token, info, show_tail: bool) -> int:
    state = jobs.state(info)
    print(_line(jobs, info))
    if state == "SUCCEEDED":
        return 0
    if state == "FAILED":
        log = jobs.logs(client, url, token, info.submission_id)
        if show_tail:
            print(f"--- last lines of the job's log ---\n{jobs.tail(log)}\n---", file=sys.stderr)
        errors = [ln for ln in log.splitlines() if ln.startswith("error: ")]
        why = f": {errors[-1][len('error: '):]}" if errors else ""
        raise ClusterError(f"job {info.submission_id} failed{why}", "" if why else
                           f"rtl-sweep jobs logs {info.submission_id} --address {url} shows its whole log")
    return 1  # STOPPED


def _line(jobs, info) -> str:
    meta = info.metadata or {}
    where = ""
    if meta.get("rtl_sweep_storage") and meta.get("rtl_sweep_name") and jobs.state(info) != "FAILED":
        where = f"  results: {meta['rtl_sweep_storage']}/{meta['rtl_sweep_name']}"
    msg = (info.message or "").strip().splitlines()
    return f"job {info.submission_id}: {jobs.state(info)}" + (f" ({msg[0][:200]})" if msg else "") + where
