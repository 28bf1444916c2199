"""Progress of a long run: a live bar per level on a terminal, plain lines elsewhere.

    rtl-sweep run                       # a bar per level when stdout is a terminal
    rtl-sweep run 2> log.txt            # a line per quarter of each level instead (CI, job logs)

The engine calls `start(level, total)` before a wave, `done(unit, seconds)` after each unit and
`end()` after the wave (rtl_sweep.engine.Run's `watch`). A skipped (already finished) unit counts
as done at once.
"""

from __future__ import annotations

import sys
import time


class WaveProgress:
    def __init__(self, stream=None, bar: bool | None = None):
        self.stream = stream or sys.stderr
        self.bar_on = self.stream.isatty() if bar is None else bar
        self.bar = None
        self.level, self.total, self.count, self.t0 = 0, 0, 0, 0.0

    def start(self, level: int, total: int) -> None:
        self.level, self.total, self.count, self.t0 = level, total, 0, time.perf_counter()
        if self.bar_on:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=f"level {level}", unit="unit", file=self.stream,
                            leave=False, dynamic_ncols=True)

    def done(self, unit, seconds: float) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.set_postfix_str(str(unit), refresh=False)
            self.bar.update(1)
            return
        if self.count * 4 // self.total == (self.count - 1) * 4 // self.total:
            return  # a plain log gets a line per quarter of the wave, not one per unit
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / self.count * (self.total - self.count)
        print(f"  level {self.level}: {self.count}/{self.total} units in {elapsed:.0f}s"
              + (f", ETA {eta:.0f}s" if self.count < self.total else ""), file=self.stream, flush=True)

    def end(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
