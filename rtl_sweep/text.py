"""Text for the terminal: the one table layout and the one number format every command prints with.

    python -c "from rtl_sweep.text import table, number; print(table(['a', 'b'], [['x', number(12345)]]))"

Our own two functions rather than a table library: every table here is one layout (columns padded
to their widest cell, two spaces apart, a rule of dashes under the header), and tests read it back
by splitting on whitespace. Cells arrive as strings, so nothing is re-parsed or re-rounded.
"""

from __future__ import annotations

import math
import numbers


def number(v, spec: str | None = None) -> str:
    """One value as a cell: None or NaN is '-'.

    spec: a format spec ('.3f', '.0%', '+.3f'), ',' for an integer with thousands separators, 'K'
    for thousands as '103K', or None for a compact form that shows any value in a few characters:
    integers get separators from 10,000 on (not 2025 or 1000 epochs), other floats 4 significant
    digits (scientific from 1e6), and a float holding a whole number from 1,000 on (an integer
    column that pandas made float because it has nulls) prints as that integer.
    """
    if v is None or (isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral) and math.isnan(v)):
        return "-"
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return str(v)
    if spec == ",":
        return f"{int(v):,}"
    if spec == "K":
        return f"{v / 1000:.0f}K" if v >= 1000 else str(int(v))
    if spec:
        return format(v, spec)
    if isinstance(v, numbers.Integral):
        return f"{int(v):,}" if abs(v) >= 10_000 else str(int(v))
    v = float(v)
    if v.is_integer() and 1e3 <= abs(v) < 1e15:
        return number(int(v))
    return format(v, ".4g") if abs(v) < 1e6 else format(v, ".4e")


def table(header: list[str] | None, rows: list[list], align: str = "", indent: str = "") -> str:
    """Rows as text columns padded to their widest cell, two spaces apart; with a header, the header
    and a rule of dashes come first. align: one letter per column, 'l' or 'r'; by default the first
    column is left-aligned (labels) and the others right-aligned (numbers). Cells that are not
    strings go through `number`. Every line starts with `indent`; none ends in spaces."""
    lines = [[c if isinstance(c, str) else number(c) for c in r] for r in rows]
    if header is not None:
        lines.insert(0, list(header))
    if not lines:
        return ""
    ncol = max(len(r) for r in lines)
    lines = [r + [""] * (ncol - len(r)) for r in lines]
    widths = [max(len(r[i]) for r in lines) for i in range(ncol)]
    if header is not None:
        lines.insert(1, ["-" * w for w in widths])
    align = align or "l" + "r" * (ncol - 1)
    pad = [str.ljust if a == "l" else str.rjust for a in align.ljust(ncol, "r")]
    return "\n".join((indent + "  ".join(p(c, w) for p, c, w in zip(pad, r, widths))).rstrip() for r in lines)
