"""CollapseStopper: a Tune stopper that ends a trial when its collapse detector fires.

    python -c "from rtl_sweep.sweep.stopper import CollapseStopper; s = CollapseStopper(); print(s('t', {'collapse': 1.0, 'sparsity': 0.98}))"

The detector itself lives in the run (`rtl_sweep.records.SignalTracker`): it sees the masks and the
tickets' answers, never a label, so stopping needs no labels. The stopper reads the reported flag
and remembers where it fired.
"""

from __future__ import annotations

from ray.tune import Stopper


class CollapseStopper(Stopper):
    def __init__(self, min_level: int = 0):
        self.min_level = min_level  # never stop before this level (e.g. to always see 90% sparsity)
        self.fired: dict[str, float] = {}

    def fires(self, result: dict) -> bool:
        """The rule, also read by the trial itself to record why it is about to end."""
        return result.get("collapse", 0.0) >= 1.0 and result.get("level", 0) >= self.min_level

    def __call__(self, trial_id: str, result: dict) -> bool:
        if self.fires(result):
            self.fired.setdefault(trial_id, result.get("sparsity", float("nan")))
            return True
        return False

    def stop_all(self) -> bool:
        return False
