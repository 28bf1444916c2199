"""The collapse detector: a label-free warning that the tickets' subnetworks are collapsing.

    python -c "from rtl_sweep.collapse import CollapseDetector; d = CollapseDetector(); print([d.update(v) for v in (0.3, 0.32, 0.34, 0.9)])"

Two triggers, either one marks a level as collapsed:
- jaccard: the watched mask-similarity signal (rtl_sweep/similarity.py) departs abruptly from its
  recent trend, in either direction (CollapseDetector);
- dead_ticket (signal.dead_tickets): a ticket that still told its inputs apart at the previous
  level no longer does (the task's `ticket_alive` rule). Its masks can look ordinary (under
  layer-wise ranking a ticket dies while the Jaccard signal keeps its smooth trend).
"""

from __future__ import annotations

import numpy as np

from rtl_sweep.similarity import ALL, summary, ticket_means


class CollapseDetector:
    """Flags an abrupt change of the watched signal against its recent trend, in either direction.

    At each new level the change from the previous level is compared with the mean of the previous
    `window` changes; the detector fires when they differ by more than `threshold`. It needs at
    least two earlier values, so the first two pruned levels can never fire. Label-free: it sees
    masks only.
    """

    def __init__(self, window: int = 2, threshold: float = 0.5):
        self.window, self.threshold = window, threshold
        self.values: list[float] = []
        self.fired_at: int | None = None

    def update(self, value: float) -> tuple[bool, float]:
        """Add the signal of the next level; returns (fired now, departure from trend)."""
        self.values.append(value)
        v = self.values
        if len(v) < 3:
            return False, 0.0
        deltas = np.diff(v)
        trend = float(np.mean(deltas[-1 - self.window:-1]))
        departure = float(deltas[-1] - trend)
        fired = abs(departure) > self.threshold
        if fired and self.fired_at is None:
            self.fired_at = len(v) - 1
        return fired, departure


class SignalTracker:
    """Both triggers over levels 1..L of the RTL run (level 0 is all-ones masks), once per level."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.detector = CollapseDetector(ctx.cfg.signal.window, ctx.cfg.signal.threshold)
        self.by_level: dict[int, dict] = {}
        self.alive_before: list[bool] | None = None

    def observe(self, level: int, mats: dict, alive: list[bool]) -> dict:
        """`alive`: the task's ticket_alive() of the method the run reports (methods.reported)."""
        if level in self.by_level:
            return self.by_level[level]
        s = summary(mats)
        s["ticket_means"] = ticket_means(mats[ALL]["jaccard"])
        s["signal"] = s[self.ctx.cfg.signal.watch]
        causes = []
        if level >= 1:
            fired, s["departure"] = self.detector.update(s["signal"])
            if fired:
                causes.append("jaccard")
            before = self.alive_before or []
            if self.ctx.cfg.signal.dead_tickets and any(b and not a for b, a in zip(before, alive)):
                causes.append("dead_ticket")
        else:
            s["departure"] = 0.0
        self.alive_before = alive
        s["collapse"] = bool(causes)
        s["collapse_cause"] = "+".join(causes) or None
        self.by_level[level] = s
        return s
