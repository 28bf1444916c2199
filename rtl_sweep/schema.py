"""The one definition of every results table: columns, types and what each column means.

    python -m rtl_sweep.schema      # prints the schema page (docs/SCHEMA.md is generated from it)

A run folder holds `tables/<table>/<part>.parquet` files; a sweep folder holds run folders plus its
own `tables/`. Every part of one table has the same schema, so pyarrow, pandas, polars and DuckDB read
a table as `**/tables/<table>/*.parquet` without our code. Each writer writes its own part files,
never one shared file.
"""

from __future__ import annotations

import json

import pyarrow as pa

from rtl_sweep.errors import ResultsError
from rtl_sweep.version import __version__

# The format of the files below. It rises when an older reader would misread the new files (a column
# renamed or given another meaning, tables moved); a new column or table keeps it. Files without a
# version were written before versions existed: version 0, read like version 1.
FORMAT_VERSION = 1
VERSION_KEY = "rtl_sweep.format_version"   # in every Parquet file's schema metadata and in FORMAT_FILE
FORMAT_FILE = "format.json"                # in every run folder: the newest version written there
ROUTED_TICKET = -2   # rounds.ticket of a routing's aggregate row; the oracle's keeps -1 (today's rows)

# (column, type, help). Config values are added to `runs` and `trials` as flattened columns
# (`prune_fraction`, `partition_k`, ...) by `config_columns`; they are not listed here.
TABLES: dict[str, dict] = {
    "runs": {
        "help": "one row per invocation of a run (a resumed or repeated run has several: take the "
                "latest finished_at): identity, status, timing, and every config value as a column",
        "columns": [
            ("run_id", pa.string(), "config hash: the run folder is <name>-<run_id>"),
            ("name", pa.string(), "the run's label"),
            ("trial_id", pa.string(), "Tune trial id when the run is a sweep trial, else null"),
            ("sweep", pa.string(), "sweep name when the run is a sweep trial, else null"),
            ("status", pa.string(), "completed | stopped_collapse | failed"),
            ("executor", pa.string(), "local | ray"),
            ("started_at", pa.timestamp("ms", tz="UTC"), "start time"),
            ("finished_at", pa.timestamp("ms", tz="UTC"), "end time"),
            ("wall_s", pa.float64(), "wall-clock seconds of this invocation"),
            ("levels", pa.int64(), "pruning levels finished (level 0 is dense)"),
            ("k", pa.int64(), "number of subsets (tickets) the partition produced"),
            ("collapse_sparsity", pa.float64(), "sparsity where the collapse detector first fired, else null"),
            ("synthetic", pa.bool_(), "true when the run's data is the synthetic timing set "
                                      "(data.name=synthetic): its scores mean nothing; else null"),
        ],
    },
    "rounds": {
        "help": "one row per (method, pruning level, ticket) under the oracle routing; ticket = -1 is "
                "the method's aggregate. Each other routing adds one aggregate row per method and "
                "level, with ticket = -2 and its name in `routing` (docs/routing.md)",
        "columns": [
            ("run_id", pa.string(), "config hash of the run"),
            ("method", pa.string(), "rtl | rtl_tickets | imp_single | imp_multiple | imp_single_equal | "
                                   "packnet | wsn | supsup (docs/mask_family.md)"),
            ("level", pa.int64(), "pruning level; 0 is the dense start"),
            ("ticket", pa.int64(), "subset id, or -1 for the average over subsets (oracle routing), or "
                                   "-2 for the aggregate under another routing (see routing)"),
            ("subset", pa.string(), "subset name (class, group, cluster), or 'all'"),
            ("sparsity", pa.float64(), "share of prunable weights removed (mean over the method's masks)"),
            ("balanced_accuracy", pa.float64(), "(TPR + TNR) / 2, one-vs-rest per subset (per class in "
                                                "the multiclass protocol), averaged"),
            ("precision", pa.float64(), "one-vs-rest precision, averaged"),
            ("recall", pa.float64(), "one-vs-rest recall, averaged"),
            ("accuracy", pa.float64(), "multi-class accuracy (multiclass protocol), else null"),
            ("psnr", pa.float64(), "task=inr: PSNR in dB (data range 1) of the routed reconstruction "
                                   "(each labelled pixel from its region's ticket); ticket -1: over "
                                   "the whole image, not the mean of the regions' values"),
            ("ssim", pa.float64(), "task=inr: SSIM (scikit-image, 7x7 window); ticket row: its "
                                   "SSIM map averaged inside the region; ticket -1: the image's SSIM"),
            ("si_snri", pa.float64(), "task=speech: SI-SNR improvement in dB (output's SI-SNR minus the "
                                      "noisy input's), mean over clips (each from its scene's ticket)"),
            ("si_snr", pa.float64(), "task=speech: SI-SNR in dB of the output against the clean clip"),
            ("pesq", pa.float64(), "task=speech: PESQ (pesq package; nb at 8 kHz, wb at 16 kHz), NaN "
                                   "when not installed"),
            ("stoi", pa.float64(), "task=speech: STOI (pystoi package), NaN when not installed"),
            ("params_prunable", pa.int64(), "kept prunable weights the method must store (see params_count); "
                                            "count = masks: 32-bit words of its K bit masks"),
            ("params_dense", pa.int64(), "non-prunable weights (biases, batch-norm, classifier) per copy; "
                                         "a one-vs-rest copy (count = sum) keeps only its own classifier row"),
            ("params_total", pa.int64(), "params_prunable + params_dense x copies stored"),
            ("params_count", pa.string(), "union (one shared tensor: rtl, packnet, wsn) | sum (separate "
                                          "copies: imp_multiple, rtl_tickets) | single | masks (K bit "
                                          "masks over weights regenerated from the seed, no weights "
                                          "stored: supsup)"),
            ("union_sparsity", pa.float64(), "sparsity of the union of the masks (rtl), else = sparsity"),
            ("mean_jaccard", pa.float64(), "mean pairwise Jaccard of the masks over all prunable weights"),
            ("jaccard_chance", pa.float64(), "Jaccard expected of random masks that keep each LAYER's "
                                             "densities (expected intersection / expected union over "
                                             "layers); compare mean_jaccard with it"),
            ("signal", pa.float64(), "the value the collapse detector watches"),
            ("collapse", pa.bool_(), "the collapse detector fired at this level"),
            ("collapse_cause", pa.string(), "what fired: jaccard (abrupt change of the watched signal) | "
                                            "dead_ticket (a ticket now gives one answer to every "
                                            "input) | both joined by '+'; null when nothing fired"),
            ("dead_tickets", pa.int64(), "tickets giving one answer to every test input (run row: how "
                                         "many; ticket row: 1 or 0); null for single models"),
            ("advantage_single_equal", pa.float64(), "RTL's main score minus this equal-parameter "
                                                     "model's, on the imp_single_equal aggregate row only "
                                                     "(computed a wave after RTL's row of the level, which "
                                                     "is never rewritten; rtl_sweep/advantages.py); "
                                                     "positive: RTL better"),
            ("advantage_multiple", pa.float64(), "RTL's main score minus IMP multiple's at this level, on "
                                                 "RTL's aggregate row (method rtl, ticket -1); positive: "
                                                 "RTL better"),
            ("params_ratio_multiple", pa.float64(), "RTL's params_prunable (union) over IMP multiple's "
                                                    "(sum) at this level, on RTL's aggregate row"),
            ("epochs", pa.int64(), "training epochs behind this row (exposure)"),
            ("exposure", pa.string(), "the run's exposure rule: passes (equal data passes, the paper's) "
                                      "| final (equal epochs behind every deployed model's final "
                                      "weights); null in tables written before it existed (passes)"),
            ("wall_s", pa.float64(), "seconds spent computing this row's stage"),
            ("routing", pa.string(), "how a test input picks its ticket: oracle (its known subset, "
                                     "as in the paper) | argmax | centroid | learned | confidence | "
                                     "entropy; "
                                     "null in tables written before routings existed (the oracle)"),
            ("router_agreement", pa.float64(), "share of test inputs routed to their oracle subset "
                                               "(1 for the oracle); null for single models"),
            ("router_accuracy", pa.float64(), "learned routing with a class partition: the router's "
                                              "own accuracy as a dense classifier, else null"),
            ("router_params", pa.int64(), "weights the routing stores beside the method's "
                                          "(learned: the router network; centroid: the centroids "
                                          "and any embedding; else 0); aggregate rows only"),
            ("params_with_router", pa.int64(), "params_total + router_params (the 'RTL + router' "
                                               "total); aggregate rows only"),
            ("synthetic", pa.bool_(), "true when the run's data is the synthetic timing set "
                                      "(data.name=synthetic): its scores mean nothing; else null"),
        ],
    },
    "similarity": {
        "help": "the K x K Jaccard matrix per layer and level, long format (layer '__all__' is global)",
        "columns": [
            ("run_id", pa.string(), "config hash of the run"),
            ("method", pa.string(), "whose masks: rtl"),
            ("level", pa.int64(), "pruning level"),
            ("sparsity", pa.float64(), "mean sparsity of the masks at this level"),
            ("layer", pa.string(), "parameter name, or '__all__' for all prunable weights"),
            ("ticket_i", pa.int64(), "first subset id"),
            ("ticket_j", pa.int64(), "second subset id"),
            ("subset_i", pa.string(), "first subset name"),
            ("subset_j", pa.string(), "second subset name"),
            ("jaccard", pa.float64(), "|m_i AND m_j| / |m_i OR m_j|"),
            ("chance", pa.float64(), "expected Jaccard of independent random masks of densities "
                                     "density_i, density_j: d_i d_j / (d_i + d_j - d_i d_j); for '__all__' "
                                     "this ignores how density differs by layer (see rounds.jaccard_chance)"),
            ("density_i", pa.float64(), "kept share of this layer in mask i"),
            ("density_j", pa.float64(), "kept share of this layer in mask j"),
            ("synthetic", pa.bool_(), "true when the run's data is the synthetic timing set "
                                      "(data.name=synthetic): its scores mean nothing; else null"),
        ],
    },
    "trials": {
        "help": "one row per sweep trial: sampled parameters (as param_<key> columns), status, final metrics",
        "columns": [
            ("sweep", pa.string(), "sweep name"),
            ("trial_id", pa.string(), "Tune trial id"),
            ("trial_number", pa.int64(), "Optuna trial number"),
            ("run_id", pa.string(), "config hash of the trial's run"),
            ("status", pa.string(), "completed | stopped_collapse (collapse stopper) | stopped_early "
                                    "(ASHA) | failed"),
            ("levels", pa.int64(), "pruning levels the trial finished"),
            ("k", pa.int64(), "number of subsets (tickets) of the trial's partition"),
            ("sparsity", pa.float64(), "sparsity of the last finished level"),
            ("balanced_accuracy", pa.float64(), "RTL balanced accuracy at the last finished level"),
            ("best_balanced_accuracy", pa.float64(), "best RTL balanced accuracy over levels"),
            ("params_prunable", pa.int64(), "RTL union of masks at the last finished level"),
            ("mean_jaccard", pa.float64(), "mean mask Jaccard at the last finished level"),
            ("collapse_sparsity", pa.float64(), "sparsity where collapse was detected, else null"),
            ("advantage_single_equal", pa.float64(), "RTL minus IMP single at equal total parameters, "
                                                     "main score, at the last level that has it"),
            ("advantage_multiple", pa.float64(), "RTL minus IMP multiple, main score, last finished level"),
            ("params_ratio_multiple", pa.float64(), "RTL union of kept weights over IMP multiple's sum"),
            ("score_rtl", pa.float64(), "RTL's main score at the level of advantage_single_equal"),
            ("score_single_equal", pa.float64(), "the equal-parameter IMP single model's main score there"),
            ("score_multiple", pa.float64(), "IMP multiple's main score at the last finished level"),
            ("score_dense", pa.float64(), "the dense model's main score (IMP single at level 0)"),
            ("baseline_failed", pa.float64(), "1 when the equal-parameter model (or IMP single) is more "
                                              "than 2 points (INR: 2 dB) below its own dense model: an advantage "
                                              "over it is no finding; 0 otherwise; null without it"),
            ("objective", pa.float64(), "the first objective's value at the target sparsity; null for "
                                        "a trial that did not get there (stopped or failed)"),
            ("wall_s", pa.float64(), "trial wall time"),
            ("error", pa.string(), "error line of a failed trial, else null"),
        ],
    },
    "pareto": {
        "help": "sweep-level best / Pareto-front trials: one row per trial on the front (rank 1 = best)",
        "columns": [
            ("sweep", pa.string(), "sweep name"),
            ("trial_id", pa.string(), "Tune trial id"),
            ("rank", pa.int64(), "1-based rank by the first objective"),
            ("objectives", pa.string(), "JSON: objective name -> value"),
        ],
    },
    "confirm": {
        "help": "`rtl-sweep confirm`: one row per rerun of a sweep's best trial with a derived seed; "
                "obj_<objective> columns as in `trials`",
        "columns": [
            ("sweep", pa.string(), "sweep name"),
            ("trial_id", pa.string(), "Tune trial id of the rerun trial"),
            ("trial_number", pa.int64(), "its Optuna trial number"),
            ("seed", pa.int64(), "the derived seed of this rerun"),
            ("run_id", pa.string(), "config hash of the rerun (its folder under confirm/runs/)"),
            ("status", pa.string(), "completed | stopped_collapse | failed"),
            ("advantage_single_equal", pa.float64(), "as in `trials`, at the last level"),
            ("advantage_multiple", pa.float64(), "as in `trials`"),
            ("params_ratio_multiple", pa.float64(), "as in `trials`"),
            ("score_rtl", pa.float64(), "as in `trials`"),
            ("score_single_equal", pa.float64(), "as in `trials`"),
            ("score_multiple", pa.float64(), "as in `trials`"),
            ("score_dense", pa.float64(), "as in `trials`"),
            ("baseline_failed", pa.float64(), "as in `trials`"),
            ("wall_s", pa.float64(), "wall time of the rerun"),
        ],
    },
    "bench": {
        "help": "benchmark figures: one row per measured ratio, with machine and versions",
        "columns": [
            ("bench", pa.string(), "benchmark name"),
            ("figure", pa.string(), "what the ratio compares"),
            ("ratio", pa.float64(), "measured ratio (numerator / denominator)"),
            ("numerator_s", pa.float64(), "seconds (or units) of the numerator"),
            ("denominator_s", pa.float64(), "seconds (or units) of the denominator"),
            ("goal", pa.float64(), "the goal for the ratio, if any"),
            ("machine", pa.string(), "host, cores, device"),
            ("versions", pa.string(), "torch / ray / python versions"),
            ("settings", pa.string(), "JSON of the settings"),
            ("measured_at", pa.timestamp("ms", tz="UTC"), "when"),
        ],
    },
}


def schema(table: str, extra: dict[str, pa.DataType] | None = None) -> pa.Schema:
    cols = [pa.field(n, t) for n, t, _ in TABLES[table]["columns"]]
    for n, t in (extra or {}).items():
        cols.append(pa.field(n, t))
    return pa.schema(cols, metadata={VERSION_KEY: str(FORMAT_VERSION)})


def to_table(table: str, rows: list[dict], extra: dict[str, pa.DataType] | None = None) -> pa.Table:
    """Rows (dicts) -> a pyarrow Table of the named schema; missing columns are null."""
    sch = schema(table, extra)
    data = {f.name: [r.get(f.name) for r in rows] for f in sch}
    return pa.Table.from_pydict(data, schema=sch)


# ---- the format version ----------------------------------------------------------------------
def table_version(sch: pa.Schema) -> int:
    """The format version a Parquet file's schema carries; 0 when it carries none."""
    return int((sch.metadata or {}).get(VERSION_KEY.encode(), b"0"))


def check_version(version: int, where: str) -> int:
    """`version` if this rtl_sweep reads it; a newer one is refused with one line."""
    if version > FORMAT_VERSION:
        raise ResultsError(f"{where} has rtl_sweep format version {version}; rtl_sweep {__version__} "
                           f"reads versions up to {FORMAT_VERSION}",
                           "upgrade rtl_sweep to the version that wrote it, or newer, to read or resume it")
    return version


def check_run_folder(store) -> int:
    """The format version of a run folder (a Store): its FORMAT_FILE's, 0 without one; newer refused."""
    if not store.exists(FORMAT_FILE):
        return 0
    where = f"{store.uri.rstrip('/')}/{FORMAT_FILE}"
    try:
        version = int(json.loads(store.read_bytes(FORMAT_FILE))[VERSION_KEY])
    except (ValueError, KeyError, TypeError) as e:
        raise ResultsError(f"{where} is not a format file ({type(e).__name__}: {e})",
                           f'write {{"{VERSION_KEY}": {FORMAT_VERSION}}} into it, or delete it')
    return check_version(version, where)


def mark_run_folder(store) -> None:
    """Claim a run folder (a Store) for this format: refuse one a newer rtl_sweep wrote, record this
    version in one that has none or an older one (a resumed run adds parts of this version)."""
    if check_run_folder(store) < FORMAT_VERSION:
        store.write_text(FORMAT_FILE, json.dumps({VERSION_KEY: FORMAT_VERSION}) + "\n")


def config_columns(flat: dict) -> dict[str, pa.DataType]:
    """Arrow types for flattened config columns (lists become JSON strings)."""
    out = {}
    for k, v in flat.items():
        if isinstance(v, bool):
            out[k] = pa.bool_()
        elif isinstance(v, int):
            out[k] = pa.int64()
        elif isinstance(v, float):
            out[k] = pa.float64()
        else:
            out[k] = pa.string()
    return out


def flatten_config(d: dict, prefix: str = "") -> dict:
    """{'prune': {'fraction': 0.5}} -> {'prune_fraction': 0.5}; lists become comma-joined strings.
    The top-level `name` is left out: the tables already have it as their own `name` column."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if key == "name":
            continue
        if isinstance(v, dict):
            out.update(flatten_config(v, key + "_"))
        elif isinstance(v, (list, tuple)):
            out[key] = ",".join(map(str, v))
        else:
            out[key] = v
    return out


def markdown() -> str:
    lines = ["# Results tables", "",
             "Generated by `python -m rtl_sweep.schema` from `rtl_sweep/schema.py`.",
             "Each table is the set of files `**/tables/<table>/*.parquet` under a run or sweep folder.", ""]
    for name, spec in TABLES.items():
        lines += [f"## `{name}`", "", spec["help"], "", "| column | type | meaning |", "| --- | --- | --- |"]
        lines += [f"| `{n}` | {t} | {h} |" for n, t, h in spec["columns"]]
        lines.append("")
    lines.append("`runs` and `trials` also carry every config value as a flattened column "
                 "(`prune_fraction`, `partition_k`, ...); `trials` carries sampled values as `param_<key>`.")
    lines += ["", "## Where the advantages live", "",
              "`advantage_multiple` and `params_ratio_multiple` of level L are on RTL's aggregate row of L "
              "(method rtl, ticket -1): IMP multiple's level L finishes in the same wave. "
              "`advantage_single_equal` of level L is on the `imp_single_equal` aggregate row of L: that "
              "baseline is trained a wave later (it needs IMP single's level-L weights), when RTL's row of "
              "L is already written to `rounds/L00L.parquet`, and rows are never rewritten; the "
              "equal-parameter rows have their own part file `rounds/L00L-imp_single_equal.parquet`, "
              "written with the advantage. One query reads all three per level: "
              "`select level, max(advantage_single_equal), max(advantage_multiple), "
              "max(params_ratio_multiple) from rounds where ticket = -1 group by level`. All are on the "
              "task's main score, signed so that positive means RTL is better. A sweep trial reports "
              "advantage_single_equal of the latest level that has it (`advantage_level`), once more "
              "after the run's last wave (the last level's), and its `trials` row keeps the absolute "
              "scores beside it and `baseline_failed`."]
    lines += ["", "## Format version", "",
              f"This is format version {FORMAT_VERSION}. Every Parquet file carries it in its schema "
              f"metadata under `{VERSION_KEY}` (pyarrow: `pq.read_schema(f).metadata`), and every run "
              f"folder in `{FORMAT_FILE}` (`{{\"{VERSION_KEY}\": {FORMAT_VERSION}}}`: the newest version "
              "written into it). Files without a version were written before versions existed (version "
              "0) and read like version 1. The version rises only when an older reader would misread the "
              "files (a column renamed or given another meaning, tables moved), not for a new column or "
              "table. `rtl-sweep results`, `query` and `report` refuse a newer version with one line: "
              "upgrade rtl_sweep."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
