"""rtl-sweep predict RUN --input FILE --routing R --output preds.parquet: predict with a finished run.

    rtl-sweep predict rtl_runs/rtl-<hash> --input envs.npz --routing learned --output preds.parquet
"""

from __future__ import annotations

import io
import os

EXAMPLES = """examples:
  rtl-sweep predict rtl_runs/rtl-ae83e2b4aabf --input new.npz --routing learned --output preds.parquet
  rtl-sweep predict rtl_runs/rtl-44136fa355b3 --level 3 --input x.parquet --routing argmax --output p.parquet
  rtl-sweep predict RUN --input envs.npz --routing oracle --output p.parquet   # subsets from the file
"""


def configure(p, name: str) -> None:
    p.description = ("Route new inputs through a finished run's RTL model (shared weights and masks "
                     "after joint retraining at one level) and write one prediction per input.")
    p.epilog = EXAMPLES
    p.add_argument("run", help="a run folder: <root>/<name>-<hash>")
    p.add_argument("--input", "-i", required=True,
                   help=".npz (X; optional y, group) or .parquet (feature columns; optional label "
                        "and group columns named as in the run's config); raw values, as the run's data")
    p.add_argument("--routing", "-r", default="oracle",
                   help="oracle (subsets from the file's labels or groups) | argmax (ovr) | centroid | "
                        "learned | confidence | entropy (multiclass)")
    p.add_argument("--level", type=int, default=None, help="pruning level (default: the last one)")
    p.add_argument("--output", "-o", required=True, help="Parquet file to write")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.set_defaults(handler=main)


def main(args) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rtl_sweep.predict import load_run, read_inputs
    from rtl_sweep.store import Store

    run = load_run(args.run, args.level, args.device)
    x, y, group = read_inputs(args.input, run.cfg)
    truth = run.subsets_of(y, group)
    out = run.predict(x, args.routing, subsets=truth if args.routing == "oracle" else None)
    part, data = run.ctx.partition, run.ctx.data
    ovr = run.cfg.protocol == "ovr"
    names = [part.names[p] if ovr else data.class_names[p] for p in out["prediction"]] \
        if not (ovr and args.routing == "oracle") else \
        [("" if p else "not ") + part.names[s] for p, s in zip(out["prediction"], out["subset"])]
    cols = {"row": np.arange(len(x), dtype=np.int64), "subset": out["subset"],
            "subset_name": [part.names[s] for s in out["subset"]],
            "prediction": out["prediction"], "prediction_name": names}
    if y is not None:
        cols["label"] = run.class_ids(y)
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf)
    target = os.path.abspath(args.output)
    Store(os.path.dirname(target)).write_bytes(os.path.basename(target), buf.getvalue())
    print(f"wrote {len(x)} predictions to {args.output} (routing {args.routing}, level {run.level}, "
          f"sparsity {run.sparsity:.3f})")
    if truth is not None and args.routing != "oracle":
        print(f"router agreement {float((out['subset'] == truth).mean()):.4f} (chosen subset = the "
              "input's own subset)")
    if y is not None and not ovr:
        print(f"accuracy {float((out['prediction'] == cols['label']).mean()):.4f} against the file's labels")
    elif truth is not None and ovr and args.routing == "argmax":
        print(f"accuracy {float((out['prediction'] == truth).mean()):.4f} against the inputs' subsets")
    return 0
