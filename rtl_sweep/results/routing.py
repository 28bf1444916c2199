"""The routing table of a run summary: each routing beside the oracle, with what its router costs.

    rtl-sweep results rtl_runs/<run folder>      # printed below the equal-parameter table

Input is the `rounds` table as a list of dicts: the aggregate rows of the oracle (ticket -1) and of
every other routing (ticket -2, `routing` names it). Accuracy is the routed prediction's against the
label (under ovr against the subset id, which is the label under a class partition); agreement is
the share of test inputs routed to their oracle subset. RTL's parameters are its union of masks plus
dense weights (what the equal-parameter baseline matches); "RTL + router" adds the router's.
"""

from __future__ import annotations

from rtl_sweep.methods import IMP_MULTIPLE, IMP_SINGLE, IMP_SINGLE_EQUAL, RTL, RTL_TICKETS
from rtl_sweep.schema import ROUTED_TICKET
from rtl_sweep.text import number, table


def format_routes(rounds: list[dict]) -> list[str]:
    """Lines to print after the summary's other tables; none when the run scored the oracle only."""
    routed = [r for r in rounds if r["ticket"] == ROUTED_TICKET and r.get("routing")]
    if not routed:
        return []
    by = {(r["method"], r["level"], r["routing"]): r for r in routed}
    by.update({(r["method"], r["level"], "oracle"): r for r in rounds if r["ticket"] == -1})
    rtl = RTL.name if any(r["method"] == RTL.name for r in routed) else RTL_TICKETS.name
    names = list(dict.fromkeys(r["routing"] for r in routed))
    own = any(r.get("router_accuracy") is not None for r in routed)
    header = ["level", "sparsity", "routing", "RTL acc", "agreement"] + (["router acc"] if own else []) + \
             ["IMP single @RTL params", "IMP single", "IMP multiple", "RTL total", "router params",
              "RTL + router"]
    rows = []
    for lv in sorted({r["level"] for r in routed}):
        first = True
        for name in ["oracle"] + names:
            r = by.get((rtl, lv, name))
            if r is None or r.get("accuracy") is None:  # the ovr oracle has no accuracy
                continue
            acc = lambda m: number((by.get((m, lv, name)) or {}).get("accuracy"), ".3f")  # noqa: E731
            rows.append([str(lv) if first else "", number(r["sparsity"], ".3f") if first else "", name,
                         number(r["accuracy"], ".3f"), number(r.get("router_agreement"), ".3f")] +
                        ([number(r.get("router_accuracy"), ".3f")] if own else []) +
                        [acc(IMP_SINGLE_EQUAL.name), acc(IMP_SINGLE.name), acc(IMP_MULTIPLE.name),
                         number(r["params_total"], ","), number(r.get("router_params"), ","),
                         number(r.get("params_with_router"), ",")])
            first = False
    notes = ["", "Routing without the oracle (accuracy against the label, under ovr against the subset "
                 "id; agreement: inputs routed to their oracle subset; the baselines routed the same way):",
             table(header, rows, align="lll" + "r" * (len(header) - 3))]
    if own:
        notes.append("router acc: the learned router alone, a dense classifier of the classes; "
                     "RTL acc is the whole routed model.")
    return notes
