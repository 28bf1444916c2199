"""Plots of a run or sweep as PNGs plus one self-contained index.html (images embedded).

    rtl-sweep report rtl_runs/rtl-ff7e8a2b6ac1 --output report/

Per run: balanced accuracy vs sparsity for RTL and its baselines; mean mask Jaccard vs sparsity with
the chance level and the collapse point; K x K Jaccard heatmaps for chosen layers and levels. Per
sweep: accuracy vs parameters of every trial with the Pareto front, and where each trial collapsed.
"""

from __future__ import annotations

import base64
import html
import io
import math

from rtl_sweep.errors import ResultsError
from rtl_sweep.results.reader import Results
from rtl_sweep.store import Store
from rtl_sweep.methods import IMP_MULTIPLE, IMP_SINGLE, METHODS, ORDER, RTL
from rtl_sweep.results.summary import LABEL, SCORES, filled_scores
from rtl_sweep.text import number

MAX_RUNS = 6  # a sweep may hold hundreds of runs; per-run plots are drawn for the best few
STYLE = {m.name: m.style for m in METHODS.values()}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _x(s: float) -> float:
    # -log10(1 - s) spreads the interesting high-sparsity end: 0.5 -> 0.3, 0.9 -> 1, 0.99 -> 2.
    return -math.log10(max(1.0 - s, 1e-6))


def _sparsity_ticks(ax, sparsities) -> None:
    xs = sorted({round(s, 4) for s in sparsities if s == s})
    shown, last = [], -1.0
    for s in xs:  # drop ticks that would overlap their left neighbour
        if _x(s) - last >= 0.12:
            shown.append(s)
            last = _x(s)
    ax.set_xticks([_x(s) for s in shown])
    ax.set_xticklabels([f"{s:.3g}" for s in shown], rotation=45 if len(shown) > 7 else 0)
    ax.set_xlabel("sparsity (log scale of the kept share 1 - s)")


def _level_sparsities(agg) -> list[float]:
    """Tick positions: the schedule's sparsities (RTL's levels), not every baseline's own value."""
    d = agg[agg.method.isin([RTL.name, IMP_SINGLE.name])]
    return list((d if not d.empty else agg).sparsity)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


# ---- per-run figures --------------------------------------------------------------------------
def plot_accuracy(agg, title: str) -> bytes:
    """The run's main score (the first score column it filled: balanced accuracy, or PSNR for an
    INR run) vs sparsity, per method."""
    plt = _plt()
    score = (filled_scores(agg.to_dict("records")) or ["balanced_accuracy"])[0]
    name = {"balanced_accuracy": "balanced accuracy", "psnr": "PSNR (dB)", "si_snri": "SI-SNRi (dB)"}.get(score, SCORES[score][0])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m in ORDER:
        d = agg[agg.method == m].sort_values("sparsity")
        if d.empty:
            continue
        c, mk, ls = STYLE[m]
        ax.plot([_x(s) for s in d.sparsity], d[score], color=c, marker=mk, ls=ls, label=LABEL[m])
    _sparsity_ticks(ax, _level_sparsities(agg))
    ax.set_ylabel(name)
    ax.set_title(f"{name[0].upper() + name[1:]} vs sparsity\n{title}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def plot_jaccard(agg, title: str) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m in (RTL.name, IMP_MULTIPLE.name):
        d = agg[(agg.method == m) & agg.mean_jaccard.notna()].sort_values("sparsity")
        if d.empty:
            continue
        c, mk, _ = STYLE[m]
        xs = [_x(s) for s in d.sparsity]
        ax.plot(xs, d.mean_jaccard, color=c, marker=mk, label=f"{LABEL[m]}: mean Jaccard")
    # Chance depends only on the layer densities, which RTL and IMP multiple share: draw it once.
    d = agg[agg.jaccard_chance.notna()].sort_values("sparsity").drop_duplicates("level")
    if not d.empty:
        ax.plot([_x(s) for s in d.sparsity], d.jaccard_chance, color="gray", ls=":", lw=2,
                label="chance (random masks, same densities)")
    rtl = agg[(agg.method == RTL.name) & (agg.collapse == True)].sort_values("level")  # noqa: E712 (nullable)
    if not rtl.empty:
        s = float(rtl.sparsity.iloc[0])
        ax.axvline(_x(s), color="black", ls="--", lw=1.2, label=f"collapse detected (s = {s:.3g})")
    else:
        ax.plot([], [], " ", label="collapse: not detected")
    _sparsity_ticks(ax, _level_sparsities(agg))
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mean pairwise Jaccard of the masks")
    ax.set_title(f"Mask similarity vs sparsity\n{title}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return _png(fig)


def default_layers(sim) -> list[str]:
    names = [n for n in dict.fromkeys(sim.layer) if n != "__all__"]  # first appearance = model order
    return list(dict.fromkeys(["__all__"] + names[:1] + names[-1:])) if "__all__" in set(sim.layer) \
        else list(dict.fromkeys(names[:1] + names[-1:]))


def default_levels(sim) -> list[int]:
    levels = sorted(set(int(v) for v in sim.level))
    pruned = [v for v in levels if v > 0] or levels
    return list(dict.fromkeys([pruned[0], levels[-1]]))


def plot_heatmaps(sim, layers: list[str], levels: list[int], title: str) -> bytes:
    plt = _plt()
    rows, cols = len(levels), len(layers)
    k_max = sim.groupby(["level", "layer"]).ticket_i.nunique().max()
    side = max(3.6, 0.5 * k_max)  # room for a readable number in every cell
    fig, axes = plt.subplots(rows, cols, figsize=(side * cols + 1.0, side * rows + 0.8), squeeze=False,
                             layout="constrained")
    im = None
    for i, lv in enumerate(levels):
        for j, layer in enumerate(layers):
            ax = axes[i][j]
            d = sim[(sim.level == lv) & (sim.layer == layer)]
            names = dict(zip(d.ticket_i, d.subset_i))
            ids = sorted(names)
            k = len(ids)
            pos = {t: n for n, t in enumerate(ids)}
            grid = [[float("nan")] * k for _ in range(k)]
            for ti, tj, jac in zip(d.ticket_i, d.ticket_j, d.jaccard):
                grid[pos[ti]][pos[tj]] = grid[pos[tj]][pos[ti]] = float(jac)
            im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis")
            labels = [str(names[t]) for t in ids]
            ax.set_xticks(range(k))
            ax.set_yticks(range(k))
            ax.set_xticklabels(labels, rotation=90 if max(map(len, labels), default=0) > 2 else 0, fontsize=7)
            ax.set_yticklabels(labels, fontsize=7)
            if k <= 12:
                for a in range(k):
                    for b in range(k):
                        v = grid[a][b]
                        if v == v:
                            ax.text(b, a, f"{v:.2f}", ha="center", va="center", fontsize=max(5, 11 - k // 2),
                                    color="black" if v > 0.6 else "white")
            sp = float(d.sparsity.iloc[0]) if len(d) else float("nan")
            off = d[d.ticket_i != d.ticket_j]
            chance = float(off.chance.mean()) if len(off) else float("nan")
            name = "all prunable weights" if layer == "__all__" else layer
            ax.set_title(f"{name}\nlevel {lv} (s = {sp:.3g}), chance {chance:.2f}", fontsize=9)
    fig.suptitle(f"Pairwise Jaccard of the RTL masks\n{title}", fontsize=10)
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.6, label="Jaccard")
    return _png(fig)


# ---- sweep figure -----------------------------------------------------------------------------
def trial_score(trials) -> tuple[str, str]:
    """(column, name) of the trials' score: balanced accuracy, or for a sweep that records none (an
    INR sweep) its first objective with values, e.g. obj_psnr."""
    if trials.balanced_accuracy.notna().any():
        return "balanced_accuracy", "balanced accuracy"
    objs = [c for c in trials.columns if c.startswith("obj_") and trials[c].notna().any()]
    return (objs[0], objs[0][len("obj_"):]) if objs else ("balanced_accuracy", "balanced accuracy")


def pareto_front(trials) -> set:
    """Trials no other trial beats on both score (higher) and kept parameters (fewer): the plot's
    front for a sweep without a pareto table (a sweep's own front comes from its Optuna study)."""
    y = trial_score(trials)[0]
    ok = trials.dropna(subset=[y, "params_prunable"])
    points = list(zip(ok[y], -ok.params_prunable))
    return {ok.trial_id.iloc[i] for i, a in enumerate(points)
            if not any(b[0] >= a[0] and b[1] >= a[1] and b != a for b in points)}


def plot_trials(trials, front: set, source: str) -> bytes:
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.2, 1]})
    colors = {"completed": "C0", "stopped_collapse": "C1", "failed": "C3"}
    y, name = trial_score(trials)
    for status, d in trials.groupby("status", dropna=False):
        a.scatter(d.params_prunable, d[y], s=28, alpha=0.8, color=colors.get(status, "C7"),
                  label=f"{status} ({len(d)})")
    f = trials[trials.trial_id.isin(front)].dropna(subset=["params_prunable"]).sort_values("params_prunable")
    if not f.empty:
        a.plot(f.params_prunable, f[y], color="red", lw=1, drawstyle="steps-post", zorder=1)
        a.scatter(f.params_prunable, f[y], s=110, facecolors="none", edgecolors="red",
                  lw=1.5, label=f"Pareto front ({source})")
    drawn = trials.dropna(subset=[y, "params_prunable"])  # a log axis needs a point to scale
    if not drawn.empty and drawn.params_prunable.min() > 0:
        a.set_xscale("log")
    a.set_xlabel("kept prunable parameters (RTL mask union, last level)")
    a.set_ylabel(f"{name} (last level)" if y == "balanced_accuracy" else f"{name} (target sparsity)")
    a.set_title(f"Trials: {'accuracy' if y == 'balanced_accuracy' else name} vs parameters", fontsize=10)
    a.grid(alpha=0.3)
    a.legend(fontsize=8)

    t = trials.sort_values("trial_number" if trials.trial_number.notna().any() else "trial_id")
    labels = [str(int(n)) if n == n else str(tid) for n, tid in zip(t.trial_number, t.trial_id)]
    hit = t.collapse_sparsity.notna()
    xs = list(range(len(t)))
    b.bar([x for x, h in zip(xs, hit) if h], t.collapse_sparsity[hit], color="C1", label="collapse detected at")
    b.bar([x for x, h in zip(xs, hit) if not h], t.sparsity[~hit].fillna(0), color="none", edgecolor="C0",
          hatch="//", label="no collapse (final sparsity)")
    b.set_xticks(xs)
    b.set_xticklabels(labels, rotation=90 if len(xs) > 12 else 0, fontsize=7 if len(xs) > 12 else 9)
    b.set_xlabel("trial number")
    b.set_ylabel("sparsity")
    b.set_ylim(0, 1.15)  # head-room for the legend above the bars
    b.set_title("Where each trial's masks collapsed", fontsize=10)
    b.legend(fontsize=8, loc="upper left", ncol=2)
    fig.tight_layout()
    return _png(fig)


def plot_importances(imp: dict[str, float], trials, objective: str, top: int = 3) -> bytes:
    """Optuna's parameter importances, and slice plots (objective vs value) of the top parameters."""
    plt = _plt()
    names = list(imp)[:top]
    fig, axes = plt.subplots(1, 1 + len(names), figsize=(4 * (1 + len(names)), 3.6))
    a = axes[0]
    a.barh(list(imp)[::-1], list(imp.values())[::-1], color="C0")
    a.set_xlabel("importance (fANOVA)")
    a.set_title(f"What drives {objective}", fontsize=10)
    y = trials["obj_" + objective] if "obj_" + objective in trials else trials[objective]
    for ax, name in zip(axes[1:], names):
        col = "param_" + name.replace(".", "_")
        x = trials[col].astype(str) if trials[col].dtype == object else trials[col]
        ax.scatter(x, y, s=28, alpha=0.8, color="C0")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel(name)
        ax.set_ylabel(objective)
        ax.set_title(f"slice: {name}", fontsize=10)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    return _png(fig)


# ---- the page ---------------------------------------------------------------------------------
def _num(v, spec=".3f") -> str:
    """An HTML cell: flags as YES / no, Python ints as counts (12,345, never 12345.000), text escaped."""
    if isinstance(v, bool):
        return "YES" if v else "no"
    if isinstance(v, int):
        spec = ","
    return html.escape(number(v, spec if isinstance(v, (int, float)) else None))


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def run_table(agg) -> str:
    rows = []
    scores = [s for s in filled_scores(agg.to_dict("records")) if s != "accuracy"] or ["balanced_accuracy"]
    for r in agg.sort_values(["level", "method"], key=lambda c: c.map(
            {m: i for i, m in enumerate(ORDER)}) if c.name == "method" else c).itertuples():
        rows.append([str(r.level), _num(r.sparsity), html.escape(LABEL.get(r.method, r.method))] +
                    [_num(getattr(r, s), SCORES[s][1]) for s in scores] +
                    [_num(r.params_prunable, ","),
                     html.escape(str(r.params_count)), _num(r.mean_jaccard), _num(r.jaccard_chance),
                     _num(None if r.collapse is None or r.collapse != r.collapse else bool(r.collapse))])
    return html_table(["level", "sparsity", "method"] + [SCORES[s][0] for s in scores] +
                      ["params", "count", "mean J", "chance", "collapse"], rows)


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title><style>
body{{font-family:sans-serif;margin:2em;max-width:1300px}} img{{max-width:100%;border:1px solid #ddd;margin:.5em 0}}
table{{border-collapse:collapse;font-size:13px;margin:.5em 0}} th,td{{border:1px solid #ccc;padding:2px 8px;text-align:right}}
th{{background:#f0f0f0}} td:first-child,th:first-child{{text-align:left}} .warn{{color:#a40}}
</style></head><body><h1>{title}</h1>{body}</body></html>
"""


def _img(name: str, data: bytes, alt: str) -> str:
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
            f"<figcaption>{html.escape(name)}</figcaption></figure>")


def report(path: str, output_dir: str, layers: list[str] | None = None, levels: list[int] | None = None,
           max_runs: int = MAX_RUNS) -> dict:
    """Write the PNGs and index.html under `output_dir`; return {'files': [...], 'html': ..., 'warnings': [...]}."""
    res = Results(path)
    out = Store(output_dir)
    rounds = res.table("rounds").to_pandas()
    runs = res.table("runs").to_pandas()
    sim = res.table("similarity").to_pandas()
    trials = res.table("trials").to_pandas()
    pages, files = [], []

    def save(name: str, data: bytes, alt: str) -> None:
        out.write_bytes(name, data)
        files.append(out.path(name))
        pages.append(_img(name, data, alt))

    if not trials.empty:
        ranks = res.table("pareto").to_pandas()
        front, source = (set(ranks.trial_id), "pareto table") if not ranks.empty else \
            (pareto_front(trials), "computed")
        pages.append(f"<h2>Sweep: {len(trials)} trials</h2>")
        save("trials.png", plot_trials(trials, front, source), "trials: accuracy vs parameters, collapse")
        from rtl_sweep.sweep import study
        objectives = [c[4:] for c in trials.columns if c.startswith("obj_")]
        for name, imp in study.importances(study.of_folder(path), objectives).items():
            save(f"importance_{name}.png", plot_importances(imp, trials, name),
                 f"parameter importances and slices, {name}")
        y, name = trial_score(trials)
        top = trials.sort_values(y, ascending=False).head(10)
        params = [c for c in trials.columns if c.startswith("param_")]
        pages.append(f"<h3>Best trials by {html.escape(name)}</h3>" + html_table(
            ["trial", "status", "sparsity", "bal.acc" if y == "balanced_accuracy" else name, "params",
             "collapse at", "Pareto"] + params,
            [[html.escape(str(r["trial_id"])), html.escape(str(r["status"])), _num(r["sparsity"]),
              _num(r[y]), _num(r["params_prunable"], ","), _num(r["collapse_sparsity"]),
              "yes" if r["trial_id"] in front else ""] + [_num(r[p], ".4g") for p in params]
             for _, r in top.iterrows()]))

    agg = rounds[rounds.ticket == -1] if not rounds.empty else rounds
    run_ids = list(dict.fromkeys(agg.run_id)) if not agg.empty else []
    if len(run_ids) > max_runs:
        best = agg[agg.method == RTL.name].groupby("run_id").balanced_accuracy.max().sort_values(ascending=False)
        run_ids = list(best.index[:max_runs])
        pages.append(f"<p>Per-run plots for the {max_runs} runs with the best RTL balanced accuracy.</p>")
    names = dict(zip(runs.run_id, runs.name)) if not runs.empty else {}
    for rid in run_ids:
        a = agg[agg.run_id == rid]
        label = f"{names[rid]}-{rid}" if rid in names else rid
        pages.append(f"<h2>Run {html.escape(label)}</h2>" + run_table(a))
        save(f"accuracy_{rid}.png", plot_accuracy(a, label), f"balanced accuracy vs sparsity, {label}")
        save(f"jaccard_{rid}.png", plot_jaccard(a, label), f"mean Jaccard vs sparsity, {label}")
        for f in _task_pictures(res, rid, out):
            files.append(out.path(f))
            pages.append(_img(f, out.read_bytes(f), f"{f}: the task's pictures, {label}"))
        s = sim[(sim.run_id == rid) & (sim.method == RTL.name)] if not sim.empty else sim
        if s.empty:
            continue
        ls, lv = _choose(s, layers, levels)
        save(f"heatmap_{rid}.png", plot_heatmaps(s, ls, lv, label), f"K x K Jaccard heatmaps, {label}")
    if not files:
        raise ResultsError(f"nothing to plot under {path!r}: no rounds or trials rows",
                           "point at a run or sweep folder that has finished at least one level")
    if res.warnings:
        pages.insert(0, "".join(f'<p class="warn">{html.escape(w)}</p>' for w in res.warnings))
    out.write_text("index.html", PAGE.format(title=html.escape(f"RTL results: {path}"), body="\n".join(pages)))
    return {"files": files, "html": out.path("index.html"), "warnings": res.warnings}


def _task_pictures(res: Results, rid: str, out: Store) -> list[str]:
    """The run's task draws its own pictures (an INR run: original, regions, reconstructions and
    error maps) from its run folder; names of the files written under `out`. A run whose pictures
    cannot be drawn (its image moved) gets a warning, not a failed report."""
    import posixpath

    import yaml

    from rtl_sweep.errors import RtlError
    folders = {rel.rsplit("tables/rounds/", 1)[0].rstrip("/") for rel in res.parts.get("rounds", [])}
    folder = next((f for f in folders  # a run folder is <name>-<run id>; "" is PATH itself
                   if posixpath.basename(f or res.store.root).endswith("-" + rid)), None)
    if folder is None or not res.store.exists(posixpath.join(folder, "config.yaml")):
        return []
    task = (yaml.safe_load(res.store.read_bytes(posixpath.join(folder, "config.yaml"))) or {}).get("task")
    if not task or task == "classification":  # the default task draws none: its reports need no torch
        return []
    from rtl_sweep.tasks import get_task
    try:
        paths = get_task(task).pictures(res.store.child(folder).uri if folder else res.store.uri, out.uri)
    except RtlError as e:
        res.warnings.append(f"no pictures for run {rid}: {e}")
        return []
    return [posixpath.relpath(p, out.root) for p in paths]


def _choose(sim, layers, levels) -> tuple[list[str], list[int]]:
    have_layers = list(dict.fromkeys(sim.layer))
    have_levels = sorted(set(int(v) for v in sim.level))
    bad = [x for x in layers or [] if x not in have_layers]
    if bad:
        raise ResultsError(f"unknown layer(s) {', '.join(bad)} in the similarity table",
                           f"choose from {', '.join(have_layers)}")
    bad = [x for x in levels or [] if x not in have_levels]
    if bad:
        raise ResultsError(f"unknown level(s) {', '.join(map(str, bad))} in the similarity table",
                           f"choose from {', '.join(map(str, have_levels))}")
    return list(layers or default_layers(sim)), list(levels or default_levels(sim))
