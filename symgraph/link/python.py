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
    def __init__(self, vm, input_cells, output_cells):
        self.vm = vm
        self.input_cells = input_cells
        self.output_cells = output_cells

    def __call__(self):
        self.vm()


class PythonLinker:
    def __init__(self, gc=True):
        self.gc = gc

    def make(self, maker):
        fgraph = maker.fgraph
        storage = make_storage_map(maker)
        vm = PythonVM(fgraph, schedule(fgraph), storage, gc=self.gc)
        inputs = [storage[v] for v in fgraph.inputs[:len(maker.inputs)]]
        outputs = [storage[v] for v in fgraph.outputs]
        return Program(vm, inputs, outputs)
