"""The one table layout and number format of the terminal output.

    python -m pytest tests/test_text.py -q
"""

from __future__ import annotations

import numpy as np
import pytest

from rtl_sweep.text import number, table


@pytest.mark.parametrize("value, spec, text", [
    (None, None, "-"), (float("nan"), ".3f", "-"), (np.float64("nan"), None, "-"),
    (0.123456, ".3f", "0.123"), (0.25, ".0%", "25%"), (-0.0421, "+.3f", "-0.042"),
    (1234567, ",", "1,234,567"), (1234567.0, ",", "1,234,567"), (103_456, "K", "103K"), (912, "K", "912"),
    (2025, None, "2025"), (12345, None, "12,345"), (np.int64(12345), None, "12,345"),
    (12345.0, None, "12,345"),          # a count that pandas made float because its column has nulls
    (0.00012345, None, "0.0001234"), (1234.5, None, "1234"), (25_000_000.5, None, "2.5000e+07"),
    (True, None, "True"), ("kmeans", None, "kmeans"),
])
def test_number(value, spec, text):
    assert number(value, spec) == text


def test_table_layout_reads_back_by_whitespace():
    header = ["trial", "status", "bal.acc"]
    rows = [["t0", "completed", "0.912"], ["t10", "stopped_collapse", "0.5"]]
    lines = table(header, rows).splitlines()
    assert [ln.split() for ln in lines] == [header, ["-" * 5, "-" * 16, "-" * 7], *rows]
    assert len({len(ln) for ln in lines}) == 1            # right-aligned last column: one width
    assert lines[2].startswith("t0 ") and lines[3].endswith("  0.5")   # labels left, numbers right
    assert lines[0].index("status") + len("status") == lines[2].index("completed") + len("completed")


def test_table_options():
    text = table(None, [["run", "one line of help"], ["bench", "x"]], align="ll", indent="  ")
    assert text.splitlines() == ["  run    one line of help", "  bench  x"]   # no trailing spaces
    assert table(["a", "b"], []) == "a  b\n-  -"
    assert table(["n"], [[12345], [None]], align="r").splitlines()[2:] == ["12,345", "     -"]
