"""rtl-sweep: the command line. One entry point, one table of subcommands.

    rtl-sweep --help
    rtl-sweep run                       # the bundled default: mnist5k, class partition, small CNN

Each subcommand lives in the module named in COMMANDS, which exposes `configure(parser)` and
`main(args) -> int`; modules load lazily so `rtl-sweep query` never imports torch or Ray.
Errors print one line (problem and fix); `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from rtl_sweep.errors import RtlError

# name -> (module, one-line help). Order is the order of --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("rtl_sweep.commands.run", "run RTL and its baselines once (a config file and/or --set)"),
    "sweep": ("rtl_sweep.sweep.commands", "search a space with Ray Tune + Optuna"),
    "resume": ("rtl_sweep.sweep.commands", "continue a sweep whose driver stopped"),
    "predict": ("rtl_sweep.commands.predict", "predict new inputs with a finished run (any routing)"),
    "confirm": ("rtl_sweep.sweep.commands", "rerun a sweep's best trials with new seeds (95% intervals)"),
    "results": ("rtl_sweep.results.commands", "summary table of a run or sweep"),
    "query": ("rtl_sweep.results.commands", "SQL over the results tables (DuckDB)"),
    "report": ("rtl_sweep.results.commands", "PNG plots and an HTML page of a run or sweep"),
    "schema": ("rtl_sweep.results.commands", "print the results tables' schema"),
    "submit": ("rtl_sweep.cluster.commands", "submit a sweep to a Ray cluster as a job"),
    "jobs": ("rtl_sweep.cluster.commands", "status | logs | stop of a submitted job"),
    "bench": ("rtl_sweep.bench.commands", "benchmarks that print measured ratios"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtl-sweep", description="Routing the Lottery as a sweep.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        # argparse %-formats an action's help (not a description): "95% intervals" must be escaped
        p = sub.add_parser(name, help=help_.replace("%", "%%"), description=help_,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
        if only is None or only == name:
            importlib.import_module(module).configure(p, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name = next((a for a in argv if not a.startswith("-")), None)
    # No command (or an unknown one): --help and argparse's error need only the names, not the
    # command modules, whose configure() would import torch (`bench` loads every benchmark).
    parser = build_parser(only=name if name in COMMANDS else "")
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    debug = args.debug or os.environ.get("RTL_SWEEP_DEBUG") == "1"
    if not debug:
        warnings.formatwarning = _one_line
    try:
        return int(args.handler(args) or 0)
    except RtlError as e:
        if debug:
            raise
        print(f"error: {e.problem}" + (f"; fix: {e.fix}" if e.fix else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished stages are kept; rerun the same command to resume", file=sys.stderr)
        return 130


_python_format = warnings.formatwarning


def _one_line(message, category, filename, lineno, line=None) -> str:
    """rtl_sweep's own warnings as one line, like its errors; a library's keep Python's format."""
    if f"{os.sep}rtl_sweep{os.sep}" in filename:
        return f"warning: {message}\n"
    return _python_format(message, category, filename, lineno, line)


if __name__ == "__main__":
    sys.exit(main())
