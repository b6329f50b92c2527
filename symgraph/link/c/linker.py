"""The ``cvm`` linker: a graph's schedule, run by the C VM.

``make(maker)`` generates C for every node that has it (one module, one gcc
run, cached), turns the schedule into VM steps over a storage plan (C
function pointers; a Scan whose inner function runs on the C VM becomes a
"loop" step, its whole loop in C; ``perform`` callbacks for the other nodes)
and returns the VM object itself as the program: calling it enters C once.
"""
import numpy as np

from symgraph.link.c.plan import StoragePlan
from symgraph.link.errors import raise_with_node_info
from symgraph.link.schedule import Jump, schedule


class CVMLinker:
    """Link with the C VM; ``gc=False`` keeps intermediates and recycles their buffers.

    >>> import numpy as np, symgraph as sg, symgraph.tensor as T
    >>> x = T.vector('x', dtype='float64')
    >>> f = sg.function([x], T.exp(x) + 1, mode=sg.Mode(linker="cvm"))
    >>> f.fn.n_c_steps > 0, f(np.zeros(2)).tolist()
    (True, [2.0, 2.0])
    """

    def __init__(self, gc=True, use_c=True):
        self.gc = gc
        self.use_c = use_c  # False: every node through perform (to test the VM alone)

    def make(self, maker):
        from symgraph.link.c.runtime import cvm

        schedule_steps = schedule(maker.fgraph)
        nodes = [None if isinstance(s, Jump) else s for s in schedule_steps]
        plan = StoragePlan(maker, schedule_steps)
        indices, module = self._compile(nodes)
        steps, checks = [], {}
        for k, node in enumerate(nodes):
            if node is None:
                jump = schedule_steps[k]
                cond = -1 if jump.cond is None else plan.slot[jump.cond]
                steps.append(("jump", cond, jump.target, plan.free_after[k]))
                continue
            ins = [plan.slot[v] for v in node.inputs]
            outs = [plan.slot[v] for v in node.outputs]
            if indices[k] is None:
                cells = [[None] for _ in node.outputs]
                loop = _loop_plan(node)
                head = ("py",) if loop is None else ("loop", loop)
                steps.append(head + (node.op.perform, node, cells, ins, outs,
                                     plan.free_after[k]))
                continue
            typenums = [np.dtype(v.type.dtype).num for v in node.outputs]
            steps.append(("c", module.addresses[indices[k]], ins, outs, typenums,
                          plan.free_after[k], hasattr(node.op, "lazy_branches")))
            for var in node.inputs:
                checks[plan.slot[var]] = (np.dtype(var.type.dtype).num, var.type.ndim)
        return cvm().VM(
            plan.n_slots, plan.constants, [(s, t, n) for s, (t, n) in checks.items()],
            plan.inputs, plan.outputs, steps, error_handler=_error_handler(nodes), gc=self.gc,
            keepalive=module, input_cells=plan.input_cells, output_cells=plan.output_cells,
            nodes=nodes, updates=plan.updates, n_returned=len(maker.outputs),
            return_list=maker.return_list, arg_types=_arg_types(maker))

    def _compile(self, nodes):
        """Per node: its index in the module's function table, or None (perform)."""
        if not self.use_c:
            return [None] * len(nodes), None
        from symgraph.link.c.module import ModuleSource, build_module
        import symgraph.link.c.generators  # noqa: F401  (registers every op family's C)

        source = ModuleSource()
        indices = [source.add(node) if node is not None and _all_tensors(node) else None
                   for node in nodes]
        if all(i is None for i in indices):
            return indices, None
        return indices, build_module(source)


def _arg_types(maker):
    """Per explicit input: (typenum, ndim, static shape), or (-1, 0, ()) if not a tensor."""
    from symgraph.tensor.type import TensorType

    types = []
    for spec in maker.inputs:
        t = spec.variable.type
        types.append((np.dtype(t.dtype).num, t.ndim, t.shape) if isinstance(t, TensorType)
                      else (-1, 0, ()))
    return types


def _loop_plan(node):
    """The C plan of a Scan node whose loop can run in C (csrc/scan_loop.c), else None."""
    plan = getattr(node.op, "c_loop_plan", None)
    return plan() if plan is not None else None


def _all_tensors(node):
    from symgraph.tensor.type import TensorType

    return all(isinstance(v.type, TensorType) for v in node.inputs + node.outputs)


def _error_handler(nodes):
    def on_error(index, exc, values):
        raise_with_node_info(exc, nodes[index], values)

    return on_error
