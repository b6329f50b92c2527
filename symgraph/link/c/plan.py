"""The storage plan: one numbered slot per variable, and when each may be freed.

Slots are numbered inputs first (explicit, then shared), then constants,
then node outputs in schedule order.  The plan also gives the cells through
which the Function exchanges values with the VM: a fresh cell per explicit
input, the container's own cell per shared variable (so the VM always reads
the current state), and one cell per output; an output that *is* a graph
input is given that input's cell, as the Python linker does.
"""
from symgraph.graph.basic import Constant
from symgraph.link.schedule import Jump, free_lists


class StoragePlan:
    """Slots, cells and free lists for ``steps`` (``schedule(maker.fgraph)``).

    Attributes: ``slot`` (variable -> index), ``n_slots``, ``inputs`` and
    ``outputs`` ((cell, slot) pairs for the VM), ``input_cells`` (explicit
    inputs only) and ``output_cells`` (for the Function), ``constants``
    ((slot, value) pairs), ``free_after`` (per step: slots whose last reader
    it is), ``updates`` ((shared variable's cell, slot of its new value) pairs).
    """

    def __init__(self, maker, steps):
        fgraph = maker.fgraph
        nodes = [s for s in steps if not isinstance(s, Jump)]
        self.slot = {}
        n_explicit = len(maker.inputs)
        self.input_cells, self.inputs = [], []
        for k, var in enumerate(fgraph.inputs):
            cell = [None] if k < n_explicit else maker.shared[k - n_explicit].container.storage
            if k < n_explicit:
                self.input_cells.append(cell)
            self.inputs.append((cell, self._number(var)))
        self.constants = []
        for node in nodes:
            for var in node.inputs:
                if isinstance(var, Constant) and var not in self.slot:
                    self.constants.append((self._number(var), var.data))
        for var in fgraph.outputs:
            if isinstance(var, Constant) and var not in self.slot:
                self.constants.append((self._number(var), var.data))
        for node in nodes:
            for var in node.outputs:
                self._number(var)
        self.n_slots = len(self.slot)
        self._plan_outputs(fgraph)
        n_out = len(maker.outputs)
        self.updates = [(var.container.storage, self.slot[value])
                        for (var, _), value in zip(maker.updates, fgraph.outputs[n_out:])]
        self.free_after = [[self.slot[v] for v in free] for free in free_lists(fgraph, steps)]

    def _number(self, var):
        if var not in self.slot:
            self.slot[var] = len(self.slot)
        return self.slot[var]

    def _plan_outputs(self, fgraph):
        input_cell = {slot: cell for cell, slot in self.inputs}
        cells = {}
        self.outputs, self.output_cells = [], []
        for var in fgraph.outputs:
            slot = self.slot[var]
            if slot not in cells:
                cells[slot] = input_cell[slot] if slot in input_cell else [None]
            self.outputs.append((cells[slot], slot))
            self.output_cells.append(cells[slot])
