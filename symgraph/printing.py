"""Printing graphs: ``debugprint`` (an indented tree with ids) and ``pprint`` (infix text).

``debugprint`` shows one line per Apply node, its inputs indented beneath it
with `` |``.  Each node and each graph input gets an id (``[id A]``) so a
subgraph used twice is printed once; later references show only its line.

``pprint`` writes an expression the way one would type it: ``(x + (y * 2.0))``.
"""
import sys

import numpy as np

from symgraph.graph.basic import Apply, Constant, Variable


# -- debugprint -----------------------------------------------------------------------
def debugprint(obj, file=None, print_type=False, ids="CHAR", depth=-1, print_storage=False):
    """Print the graph of ``obj`` as an indented tree.

    ``obj``: a Variable, a list of Variables, an Apply, a FunctionGraph or a
    compiled Function.  ``file``: None (stdout; returns ``obj``), ``'str'``
    (returns the text) or a file object (returns it).  ``ids``: ``'CHAR'``
    (A, B, ...), ``'int'``, ``'id'`` (Python ids) or ``''`` (none).  ``depth``:
    how many levels to print (-1: all).  ``print_storage``: show the values of
    shared variables.

    >>> import symgraph.tensor as T
    >>> x = T.dvector('x')
    >>> print(debugprint(T.exp(x) * x, file='str'), end='')
    Elemwise{mul} [id A]
     |Elemwise{exp} [id B]
     | |x [id C]
     |x [id C]
    """
    if ids not in ("CHAR", "int", "id", ""):
        raise ValueError(f"debugprint: ids must be 'CHAR', 'int', 'id' or '', got {ids!r}")
    roots, labels = _roots_of(obj)
    printer = _TreePrinter(print_type, ids, depth, print_storage)
    for var, label in zip(roots, labels):
        printer.print_tree(var, label)
    text = "".join(line + "\n" for line in printer.lines)
    if isinstance(file, str):
        if file != "str":
            raise ValueError(f"debugprint: file must be None, 'str' or a file, got {file!r}")
        return text
    stream = sys.stdout if file is None else file
    stream.write(text)
    return obj if file is None else file


def _roots_of(obj):
    """The variables to print for ``obj``, each with a label (or None)."""
    from symgraph.graph.fgraph import FunctionGraph

    maker = getattr(obj, "maker", None)
    if maker is not None and hasattr(maker, "fgraph"):
        outputs = list(maker.fgraph.outputs)
        n_out = len(maker.outputs)
        labels = [None] * n_out + [f"update of {var}" for var, _ in maker.updates]
        return outputs, labels
    if isinstance(obj, FunctionGraph):
        return list(obj.outputs), [None] * len(obj.outputs)
    if isinstance(obj, Variable):
        return [obj], [None]
    if isinstance(obj, Apply):
        return list(obj.outputs), [None] * len(obj.outputs)
    if isinstance(obj, (list, tuple)):
        roots, labels = [], []
        for item in obj:
            r, lab = _roots_of(item)
            roots += r
            labels += lab
        return roots, labels
    raise TypeError(f"cannot print {type(obj).__name__}; give a Variable, a list, "
                    f"an Apply, a FunctionGraph or a compiled Function")


def _char_id(k):
    """0 -> A, 25 -> Z, 26 -> BA, ... (base 26 in letters)."""
    letters = ""
    while True:
        letters = chr(ord("A") + k % 26) + letters
        k //= 26
        if k == 0:
            return letters


class _TreePrinter:
    """Collects the lines of one debugprint call; ids persist across its roots."""

    def __init__(self, print_type, ids, depth, print_storage):
        self.print_type, self.ids, self.depth = print_type, ids, depth
        self.print_storage = print_storage
        self.id_of = {}  # Apply node or ownerless Variable -> id text
        self.expanded = set()  # Apply nodes whose inputs have been printed
        self.lines = []

    def _id(self, key):
        if not self.ids:
            return ""
        if key not in self.id_of:
            if self.ids == "CHAR":
                self.id_of[key] = _char_id(len(self.id_of))
            elif self.ids == "int":
                self.id_of[key] = str(len(self.id_of))
            else:
                self.id_of[key] = str(id(key))
        return f" [id {self.id_of[key]}]"

    def _describe(self, var):
        node = var.owner
        if node is None:
            text = str(var) + self._id(var)
        else:
            text = str(node.op)
            if len(node.outputs) > 1:
                text += f".{var.index}"
            text += self._id(node)
            if var.name is not None:
                text += f" '{var.name}'"
        if self.print_type:
            text += f" <{var.type}>"
        if self.print_storage:
            container = getattr(var, "container", None)
            if container is not None:
                text += f" storage={_short_value(container.storage[0])}"
        return text

    def print_tree(self, root, label=None):
        # iterative, so very deep graphs do not hit the recursion limit
        stack = [(root, "", "", 0, label)]
        while stack:
            var, prefix, child_prefix, level, note = stack.pop()
            line = prefix + self._describe(var)
            if note:
                line += f"  ({note})"
            node = var.owner
            if node is None:
                self.lines.append(line)
                continue
            if node in self.expanded:
                self.lines.append(line + ("" if self.ids else " (printed above)"))
                continue
            self.lines.append(line)
            if 0 <= self.depth <= level + 1:
                continue
            self.expanded.add(node)
            children = []
            for k, inp in enumerate(node.inputs):
                last = k == len(node.inputs) - 1
                children.append((inp, child_prefix + " |",
                                 child_prefix + ("  " if last else " |"), level + 1, None))
            stack.extend(reversed(children))


def _short_value(value):
    text = np.array2string(np.asarray(value), threshold=8, separator=", ") \
        if isinstance(value, np.ndarray) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:45] + "..." + text[-10:]


# -- pprint ---------------------------------------------------------------------------
_INFIX = {
    "add": "+", "sub": "-", "mul": "*", "true_div": "/", "int_div": "//", "mod": "%",
    "pow": "**", "eq": "==", "neq": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
    "and_": "&", "or_": "|", "xor": "^",
}
_PREFIX = {"neg": "-", "invert": "~"}
_CALL_NAMES = {"Dot": "dot", "Matmul": "matmul", "DeepCopyOp": "deepcopy"}


def pprint(var):
    """A readable infix rendering of ``var`` (or of each output of a list, FunctionGraph
    or compiled Function, one per line).

    >>> import symgraph.tensor as T
    >>> x, y = T.dvectors('x', 'y')
    >>> pprint(x + y * 2)
    '(x + (y * 2.0))'
    >>> W = T.dmatrix('W')
    >>> pprint(T.tanh(T.dot(W, x))[1:3])
    'tanh(dot(W, x))[1:3]'
    """
    if not isinstance(var, Variable):
        roots, _ = _roots_of(var)
        return "\n".join(pprint(r) for r in roots)
    memo = {}
    for node in _toposort_from(var):
        for out in node.outputs:
            memo[out] = _render_output(out, memo)
    return _text(var, memo)


def _toposort_from(var):
    from symgraph.graph.traversal import io_toposort

    return io_toposort([], [var])


def _text(var, memo):
    if var in memo:
        return memo[var]
    if isinstance(var, Constant):
        return _constant_text(var)
    if var.name is not None:
        return var.name
    return f"<{var.type}>"


def _constant_text(const):
    if const.name is not None:
        return const.name
    data = np.asarray(const.data)
    if data.ndim == 0:
        return repr(data.item())
    if data.size <= 8:
        return str(data.tolist())
    return str(const)


def _render_output(out, memo):
    node = out.owner
    op = node.op
    args = [_text(i, memo) for i in node.inputs]
    kind = type(op).__name__
    if kind == "Elemwise":
        text = _render_elemwise(op.scalar_op.name, args)
    elif kind == "DimShuffle":
        text = _render_dimshuffle(op, node.inputs[0], args[0])
    elif kind == "Reduce":
        text = _render_reduce(op, node.inputs[0], args[0])
    elif kind in ("Subtensor", "AdvancedSubtensor"):
        text = args[0] + _render_index(op.idx_list, args[1:])
    elif kind in ("IncSubtensor", "AdvancedIncSubtensor"):
        which = "set_subtensor" if op.set_instead_of_inc else "inc_subtensor"
        text = f"{which}({args[0]}{_render_index(op.idx_list, args[2:])}, {args[1]})"
    elif kind == "Shape":
        text = f"{args[0]}.shape"
    elif kind == "Shape_i":
        text = f"{args[0]}.shape[{op.i}]"
    else:
        name = _CALL_NAMES.get(kind, str(op))
        text = f"{name}({', '.join(args)})"
    if len(node.outputs) > 1:
        text += f"[{out.index}]"
    return text


def _render_elemwise(name, args):
    if name in _INFIX and len(args) >= 2:
        return "(" + f" {_INFIX[name]} ".join(args) + ")"
    if name in _PREFIX and len(args) == 1:
        return _PREFIX[name] + args[0]
    return f"{name}({', '.join(args)})"


def _render_dimshuffle(op, inp, arg):
    kept = [d for d in op.new_order if d != "x"]
    if kept == list(range(op.input_ndim)) and not op.drop:
        # only broadcastable dimensions added: invisible in an expression, as in NumPy
        if all(d == "x" for d in op.new_order[:len(op.new_order) - len(kept)]):
            return arg
    if op.new_order == tuple(reversed(range(op.input_ndim))) and op.input_ndim == 2:
        return f"{arg}.T"
    pattern = ", ".join(repr(d) for d in op.new_order)
    return f"{arg}.dimshuffle({pattern})"


def _render_reduce(op, inp, arg):
    if tuple(op.axis) == tuple(range(inp.ndim)):
        return f"{op.kind}({arg})"
    axis = op.axis[0] if len(op.axis) == 1 else tuple(op.axis)
    return f"{op.kind}({arg}, axis={axis})"


def _render_index(idx_list, index_args):
    it = iter(index_args)
    parts = []
    for entry in idx_list:
        if entry in ("i", "a"):
            parts.append(next(it))
        else:
            bounds = [next(it) if has else "" for has in entry[1:]]
            part = f"{bounds[0]}:{bounds[1]}"
            if entry[3]:
                part += f":{bounds[2]}"
            parts.append(part)
    return "[" + ", ".join(parts) + "]"

