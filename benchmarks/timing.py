"""Examples per second over fixed wall-time windows, after a warm-up.

An implementation is measured through ``run_chunk()``: a callable that trains on
some minibatches and returns how many examples it consumed.  The window loop
calls it until the window's time is up; the rate of a window is its examples
over its elapsed time, and the reported rate is the median over windows.
``sync`` (e.g. JAX's ``block_until_ready``) makes sure queued work is finished
before a clock is read.

>>> import time
>>> def chunk():
...     time.sleep(0.001)
...     return 10
>>> rate, runs = measure(chunk, warmup_s=0.01, window_s=0.02, n_windows=3)
>>> len(runs), 1000 < rate < 10000
(3, True)
"""
import statistics
import time


class Budget:
    """Warm-up and window lengths (seconds) and the number of windows."""

    def __init__(self, warmup_s, window_s, n_windows):
        self.warmup_s, self.window_s, self.n_windows = warmup_s, window_s, n_windows

    def __repr__(self):
        return (f"Budget(warmup_s={self.warmup_s}, window_s={self.window_s}, "
                f"n_windows={self.n_windows})")


QUICK = Budget(warmup_s=0.05, window_s=0.15, n_windows=3)
FULL = Budget(warmup_s=0.5, window_s=0.5, n_windows=5)


def _no_sync():
    pass


def run_for(run_chunk, seconds, sync=_no_sync):
    """Call ``run_chunk`` until ``seconds`` have passed; ``(examples, elapsed seconds)``."""
    examples = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        examples += run_chunk()
        now = time.perf_counter()
        if now >= deadline:
            sync()
            return examples, time.perf_counter() - start


def measure(run_chunk, warmup_s, window_s, n_windows, sync=_no_sync):
    """``(median examples/s, [examples/s of each window])``."""
    run_for(run_chunk, warmup_s, sync)
    runs = []
    for _ in range(n_windows):
        examples, elapsed = run_for(run_chunk, window_s, sync)
        runs.append(examples / elapsed)
    return statistics.median(runs), runs


def measure_with(run_chunk, budget, sync=_no_sync):
    """``measure`` with the lengths of a ``Budget``."""
    return measure(run_chunk, budget.warmup_s, budget.window_s, budget.n_windows, sync)


def steps_per_chunk(step_seconds, target_s=0.02):
    """How many steps a many-steps-per-call chunk should hold to last about ``target_s``."""
    return max(1, int(target_s / max(step_seconds, 1e-9)))
