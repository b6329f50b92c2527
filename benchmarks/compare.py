"""Compare two runs of run_mlp.py: per-cell ratios NEW / OLD of examples per second.

    python benchmarks/compare.py benchmarks/results/OLD.json NEW.json

Cells are matched on (arch, batch, impl, variant, threads); a ratio above 1 means
NEW is faster.  Cells present in only one file are listed as such.

>>> old = {"results": [dict(arch="784-10", batch=1, impl="numpy", variant="numpy",
...                         threads=1, examples_per_sec=100.0)]}
>>> new = {"results": [dict(arch="784-10", batch=1, impl="numpy", variant="numpy",
...                         threads=1, examples_per_sec=150.0)]}
>>> print(format_comparison(old, new))  # doctest: +NORMALIZE_WHITESPACE
arch    batch  threads  impl   variant  old  new  new/old
784-10      1        1  numpy  numpy    100  150    1.50x
"""
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from benchmarks.report import human  # noqa: E402

_KEY = ("arch", "batch", "threads", "impl", "variant")


def _by_cell(run):
    return {tuple(r[k] for k in _KEY): r["examples_per_sec"] for r in run["results"]}


def comparison_rows(old, new):
    """``[(key, old_rate or None, new_rate or None, ratio or None)]`` over every cell."""
    a, b = _by_cell(old), _by_cell(new)
    keys = list(a) + [k for k in b if k not in a]
    rows = []
    for key in keys:
        x, y = a.get(key), b.get(key)
        rows.append((key, x, y, y / x if x and y else None))
    return rows


def format_comparison(old, new):
    """The comparison as an aligned text table."""
    lines = [list(_KEY) + ["old", "new", "new/old"]]
    for key, x, y, ratio in comparison_rows(old, new):
        lines.append([str(v) for v in key] + [human(x), human(y),
                                               f"{ratio:.2f}x" if ratio else "only one"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    numeric = {1, 2, 7}
    return "\n".join("  ".join(v.rjust(w) if i in numeric else v.ljust(w)
                               for i, (v, w) in enumerate(zip(line, widths))).rstrip()
                     for line in lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    runs = []
    for path in argv:
        with open(path) as f:
            runs.append(json.load(f))
    for label, run in zip(("old", "new"), runs):
        m = run.get("machine", {})
        print(f"{label}: {m.get('date', '?')} commit {(m.get('commit') or '?')[:10]} "
              f"{m.get('cpu', '?')} threads={m.get('threads', '?')}")
    print(format_comparison(*runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
