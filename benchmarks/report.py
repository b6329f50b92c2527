"""The results table (stdout), symgraph's ratios, and the Figure-1-style bar chart.

Also a command, to show a saved run again:
``python benchmarks/report.py RUN.json [--plot PATH]``.

>>> rows = [dict(arch='784-10', batch=1, impl='numpy', variant='numpy', examples_per_sec=4e4,
...              per_call=True),
...         dict(arch='784-10', batch=1, impl='symgraph', variant='py', examples_per_sec=1e4,
...              per_call=True),
...         dict(arch='784-10', batch=1, impl='reference', variant='c_blas',
...              examples_per_sec=1e5, per_call=False)]
>>> print(format_table(rows))  # doctest: +NORMALIZE_WHITESPACE
arch    batch  symgraph:py  limit(C)  numpy  sg/peer  sg/limit
784-10      1        10.0k    100.0k  40.0k    0.25x     0.10x
"""
import argparse
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from benchmarks.impls import IMPLS  # noqa: E402

PEERS = ("numpy", "torch", "torch_compile", "jax", "pytensor")  # per-call peers
_SHORT = {"reference": "limit(C)", "torch_compile": "torch.compile"}


def human(rate):
    """12345.6 -> '12.3k'."""
    if rate is None:
        return "-"
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if rate >= scale:
            return f"{rate / scale:.1f}{suffix}"
    return f"{rate:.0f}"


def column_label(impl, variant):
    if impl in _SHORT:
        return _SHORT[impl]
    if impl in ("symgraph", "pytensor"):
        return f"{impl}:{variant}"
    return impl


def columns_of(records):
    """The (impl, variant) pairs present, in table order."""
    seen = []
    for r in sorted(records, key=lambda r: IMPLS.index(r["impl"])):
        key = (r["impl"], r["variant"])
        if key not in seen:
            seen.append(key)
    return seen


def ratios(cell):
    """symgraph's best per-call rate over the best per-call peer's, and its best over the C
    reference's (None where a side is missing)."""
    def best(pred):
        rates = [r["examples_per_sec"] for r in cell if pred(r)]
        return max(rates) if rates else None

    sg_call = best(lambda r: r["impl"] == "symgraph" and r.get("per_call", True))
    sg_any = best(lambda r: r["impl"] == "symgraph")
    peer = best(lambda r: r["impl"] in PEERS)
    limit = best(lambda r: r["impl"] == "reference")
    return (sg_call / peer if sg_call and peer else None,
            sg_any / limit if sg_any and limit else None)


def _cells(records):
    cells = {}
    for r in records:
        cells.setdefault((r["arch"], r["batch"]), []).append(r)
    order = lambda key: (len(key[0]), key[0], key[1])  # noqa: E731  small nets first
    return [(key, cells[key]) for key in sorted(cells, key=order)]


def format_table(records):
    """One row per architecture and batch: examples/s of every implementation, then ratios."""
    columns = columns_of(records)
    header = ["arch", "batch"] + [column_label(*c) for c in columns] + ["sg/peer", "sg/limit"]
    lines = [header]
    for (arch, batch), cell in _cells(records):
        by_key = {(r["impl"], r["variant"]): r for r in cell}
        row = [arch, str(batch)]
        for c in columns:
            r = by_key.get(c)
            mark = "!" if r is not None and r.get("check") == "FAILED" else ""
            row.append(human(r["examples_per_sec"]) + mark if r else "-")
        to_peer, to_limit = ratios(cell)
        row += [f"{to_peer:.2f}x" if to_peer else "-", f"{to_limit:.2f}x" if to_limit else "-"]
        lines.append(row)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = []
    for line in lines:
        cells = [line[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(line[1:], widths[1:])]
        text.append("  ".join(cells).rstrip())
    return "\n".join(text)


def plot(records, path, title="", panel="arch", group="batch", group_label="batch {}",
         ylabel="examples / s"):
    """Bar charts of examples/s, one panel per architecture, bars grouped by batch size
    (the layout of the paper's Figure 1).  Returns False when matplotlib is missing.

    ``panel`` and ``group`` name the record fields that pick a panel and a bar group (the
    RNN benchmark: one panel per model, groups by hidden size)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    panels = list(dict.fromkeys(r[panel] for r in records))
    columns = columns_of(records)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5), squeeze=False)
    width = 0.8 / max(len(columns), 1)
    for ax, name in zip(axes[0], panels):
        mine = [r for r in records if r[panel] == name]
        groups = sorted({r[group] for r in mine})
        for k, column in enumerate(columns):
            heights = []
            for g in groups:
                match = [r for r in mine if r[group] == g and (r["impl"], r["variant"]) == column]
                heights.append(match[0]["examples_per_sec"] if match else 0)
            xs = [i + (k - (len(columns) - 1) / 2) * width for i in range(len(groups))]
            style = {"hatch": "//", "edgecolor": "black"} if column[0] == "reference" else {}
            ax.bar(xs, heights, width, label=column_label(*column),
                   color=plt.cm.tab20(k % 20), **style)
        ax.set_xticks(range(len(groups)), [group_label.format(g) for g in groups])
        ax.set_yscale("log")
        ax.set_title(name)
        ax.set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def target_lines(records):
    """The issue's targets, each as the worst cell's ratio: symgraph with ``trust_input``
    against the best per-call peer (target 1.0x), ``n_calls`` against the C reference
    (target 0.8x)."""
    def worst(variant, against):
        values = []
        for (arch, batch), cell in _cells(records):
            mine = [r["examples_per_sec"] for r in cell
                    if r["impl"] == "symgraph" and r["variant"] == variant]
            theirs = [r["examples_per_sec"] for r in cell if against(r)]
            if mine and theirs:
                values.append((mine[0] / max(theirs), f"{arch} batch {batch}"))
        return min(values) if values else None

    lines = []
    for variant, against, name, target in (
            ("trust_input", lambda r: r["impl"] in PEERS, "best per-call peer", 1.0),
            ("n_calls", lambda r: r["impl"] == "reference", "the C reference", 0.8)):
        found = worst(variant, against)
        if found is None:
            lines.append(f"target: symgraph {variant} >= {target}x {name}: not measured")
        else:
            ratio, where = found
            verdict = "met" if ratio >= target else "not met"
            lines.append(f"target: symgraph {variant} >= {target}x {name} in every cell: "
                         f"{verdict} (worst {ratio:.2f}x, {where})")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description="Show a saved run_mlp.py result again.")
    p.add_argument("run", help="JSON written by run_mlp.py --json")
    p.add_argument("--plot", metavar="PATH", help="also write its bar chart")
    args = p.parse_args(argv)
    with open(args.run) as f:
        run = json.load(f)
    m = run.get("machine", {})
    print(f"{m.get('date', '?')} commit {(m.get('commit') or '?')[:10]} {m.get('cpu', '?')} "
          f"threads={m.get('threads', '?')} load={m.get('load_average')}")
    print(format_table(run["results"]))
    print("\n".join(target_lines(run["results"])))
    for note in run.get("notes", []):
        print(f"note: {note}")
    if args.plot:
        title = (f"float32 SGD training, examples/s: {m.get('cpu', '?')}, "
                 f"threads={m.get('threads', '?')}, {m.get('date', '?')[:10]}, "
                 f"commit {(m.get('commit') or '?')[:10]}")
        if not plot(run["results"], args.plot, title):
            print("note: --plot skipped: matplotlib is not installed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
