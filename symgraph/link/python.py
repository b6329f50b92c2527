"""The Python linker: a storage map, a schedule, and the Python VM."""
from symgraph.graph.basic import Constant
from symgraph.link.schedule import schedule
from symgraph.link.vm import PythonVM


def make_storage_map(maker):
    """One cell per variable; shared inputs use their container's cell directly."""
    fgraph = maker.fgraph
    storage = {}
    n_explicit = len(maker.inputs)
    for k, var in enumerate(fgraph.inputs):
        if k < n_explicit:
            storage[var] = [None]
        else:
            storage[var] = maker.shared[k - n_explicit].container.storage
    for var in fgraph.variables:
        if var not in storage:
            storage[var] = [var.data] if isinstance(var, Constant) else [None]
    return storage


class Program:
    """The Python VM with its cells; a call runs it and applies the updates.

    ``program(n_calls=N)`` runs N times (each call sees the previous call's
    updates) and returns the last call's outputs, like the C VM.
    """

    def __init__(self, vm, input_cells, output_cells, updates, n_returned, return_list):
        self.vm = vm
        self.input_cells = input_cells
        self.output_cells = output_cells
        self.updates = updates  # (shared variable's cell, the cell of its new value)
        self.n_returned, self.return_list = n_returned, return_list

    def __call__(self, n_calls=None):
        for _ in range(1 if n_calls is None else n_calls):
            self.vm()
            for storage, cell in self.updates:
                storage[0] = cell[0]
        if n_calls is None:
            return None
        outputs = [cell[0] for cell in self.output_cells[:self.n_returned]]
        if self.return_list:
            return outputs
        return outputs[0] if outputs else None


class PythonLinker:
    def __init__(self, gc=True):
        self.gc = gc

    def make(self, maker):
        fgraph = maker.fgraph
        storage = make_storage_map(maker)
        vm = PythonVM(fgraph, schedule(fgraph), storage, gc=self.gc)
        inputs = [storage[v] for v in fgraph.inputs[:len(maker.inputs)]]
        outputs = [storage[v] for v in fgraph.outputs]
        n_out = len(maker.outputs)
        updates = [(var.container.storage, storage[value])
                   for (var, _), value in zip(maker.updates, fgraph.outputs[n_out:])]
        return Program(vm, inputs, outputs, updates, n_out, maker.return_list)
