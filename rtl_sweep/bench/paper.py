"""rtl-sweep bench paper: the paper's Table 1 layout on the bundled mnist5k, beside its CIFAR-10 figures.

    rtl-sweep bench paper
    rtl-sweep bench paper --paper-epochs 5

Not a timing: one local run of the bundled default (small CNN, 10 class tickets, one-vs-rest) with
prune.mode=count and prune.count = a quarter of the prunable weights, so levels 1..3 sit at
EXACTLY 25 / 50 / 75% sparsity (fraction mode cannot hit all three), and --paper-epochs epochs of
pruning and of joint retraining per level (the paper: 10 + 10 on CIFAR-10 with a GhostNet; the
default here is cut to finish in about a minute). Baselines IMP single and IMP multiple with the
same exposure. Parameters: RTL = union of its masks + dense weights once; IMP multiple = sum over
the 10 models; IMP single = one model. Rows: RTL / baseline for balanced accuracy and parameters
at each sparsity (numerator and denominator are the values, not seconds). The run folder lives
under <output>/runs and is reused when the same settings run again.
"""

from __future__ import annotations

import sys

from rtl_sweep.bench.common import row, threads
from rtl_sweep.methods import IMP_MULTIPLE, IMP_SINGLE, RTL
from rtl_sweep.text import number, table

PAPER_CIFAR10 = {  # Table 1, CIFAR-10, at 25 / 50 / 75% sparsity
    RTL.name: {"balanced_accuracy": (0.781, 0.778, 0.772), "params": ("103K", "72K", "38K")},
    IMP_SINGLE.name: {"balanced_accuracy": (0.711, 0.711, 0.732), "params": ("94K", "63K", "31K")},
    IMP_MULTIPLE.name: {"balanced_accuracy": (0.712, 0.710, 0.760), "params": ("944K", "629K", "314K")},
}
LABEL = {RTL.name: "RTL", IMP_SINGLE.name: "IMP single", IMP_MULTIPLE.name: "IMP multiple"}  # the paper's


def configure(p) -> None:
    p.add_argument("--paper-epochs", type=int, default=2,
                   help="epochs of pruning and of joint retraining per level (paper)")


def run(args) -> list[dict]:
    from rtl_sweep.config import RunConfig
    from rtl_sweep.context import build_context
    from rtl_sweep.engine import Run

    E = args.paper_epochs
    probe = build_context(RunConfig().with_overrides(["prune.target_sparsity=0.5"]), "cpu")
    total = probe.total_prunable
    count = total // 4
    cfg = RunConfig().with_overrides([
        "prune.mode=count", f"prune.count={count}", "prune.target_sparsity=0.75",
        f"prune.epochs={E}", f"joint.epochs={E}", "baselines=imp_single,imp_multiple"])
    with threads(args.threads):
        out = Run(cfg, f"{args.output.rstrip('/')}/runs", device="cpu", ctx=None).execute()
    got: dict[str, dict[int, dict]] = {}
    for rec in out["records"]:
        for r in rec["rounds"]:
            if r["ticket"] == -1 and r["method"] in LABEL and r["level"] >= 1:
                got.setdefault(r["method"], {})[r["level"]] = r
    settings = {"data": "mnist5k", "model": cfg.model.name, "K": 10, "protocol": cfg.protocol,
                "prune.mode": "count", "prune.count": count, "prunable": total,
                "levels_sparsity": [0.25, 0.5, 0.75], "epochs_prune": E, "epochs_joint": E,
                "run": out["folder"], "paper_cifar10": PAPER_CIFAR10,
                "note": "numerator/denominator are the metric values (params: weights), not seconds"}
    _print_table(got, total, file=sys.stdout)
    rows = []
    for level in (1, 2, 3):
        rtl = got[RTL.name][level]
        for base in (IMP_SINGLE.name, IMP_MULTIPLE.name):
            b = got[base][level]
            for metric in ("balanced_accuracy", "params_total"):
                rows.append(row("paper", f"{metric} RTL / {LABEL[base]} @ {rtl['sparsity']:.0%}",
                                rtl[metric] / b[metric], rtl[metric], b[metric], None, settings))
    return rows


def _print_table(got: dict, total: int, file) -> None:
    print("\n   Table 1 layout: ours = mnist5k, small CNN (%d prunable); paper = CIFAR-10, GhostNet "
          "(~126K prunable)" % total, file=file)
    body = []
    for m in PAPER_CIFAR10:
        for i, level in enumerate((1, 2, 3)):
            r = got.get(m, {}).get(level)
            if r is None:
                continue
            p = PAPER_CIFAR10[m]
            body.append([LABEL[m], number(r["sparsity"], ".0%"), number(r["balanced_accuracy"], ".3f"),
                         number(p["balanced_accuracy"][i], ".3f"), number(r["precision"], ".3f"),
                         number(r["recall"], ".3f"), number(r["params_total"], "K"), p["params"][i],
                         r["params_count"]])
    header = ["method", "sparsity", "bal.acc", "paper", "prec", "recall", "params", "paper", "count"]
    print(table(header, body, align="lrrrrrrrl", indent="   "), file=file)
