"""The Python virtual machine: runs each node's ``perform`` in schedule order.

Storage is one cell (a 1-element list) per variable; a node reads its input
cells and writes its output cells.  Intermediates are freed after their last
use (``gc``).  This VM is the reference every faster backend is checked against.
"""
import time

from symgraph.graph.basic import Constant, format_trace
from symgraph.link.errors import raise_with_node_info


class PythonVM:
    """Executes ``nodes`` (a topological order) over ``storage_map``."""

    def __init__(self, fgraph, nodes, storage_map, gc=True):
        self.fgraph, self.nodes, self.storage_map = fgraph, nodes, storage_map
        self.thunks = [self._thunk(node) for node in nodes]
        keep = set(fgraph.inputs) | set(fgraph.outputs)
        self.free_after = [[] for _ in nodes] if gc else None
        if gc:
            last_use = {}
            for k, node in enumerate(nodes):
                for var in node.inputs:
                    last_use[var] = k
                for var in node.outputs:
                    last_use.setdefault(var, k)
            for var, k in last_use.items():
                if var not in keep and not isinstance(var, Constant):
                    self.free_after[k].append(storage_map[var])

    def _thunk(self, node):
        inputs = [self.storage_map[v] for v in node.inputs]
        outputs = [self.storage_map[v] for v in node.outputs]
        perform = node.op.perform

        def thunk():
            perform(node, [cell[0] for cell in inputs], outputs)

        return thunk

    def time_nodes(self, seconds, calls):
        """Profile hook: wrap each node's thunk to add its run time to ``seconds[k]`` and
        count it in ``calls[k]`` (k: its index in ``self.nodes``).  Only a profiled
        function calls this; the VM's loop itself never checks for profiling."""
        clock = time.perf_counter

        def timed(k, thunk):
            def run():
                start = clock()
                thunk()
                seconds[k] += clock() - start
                calls[k] += 1

            return run

        self.thunks = [timed(k, thunk) for k, thunk in enumerate(self.thunks)]

    def __call__(self):
        k = 0
        try:
            if self.free_after is None:
                for k, thunk in enumerate(self.thunks):
                    thunk()
            else:
                for k, (thunk, free) in enumerate(zip(self.thunks, self.free_after)):
                    thunk()
                    for cell in free:
                        cell[0] = None
        except Exception as exc:
            node = self.nodes[k]
            values = [self.storage_map[v][0] for v in node.inputs]
            self._clear()
            raise_with_node_info(exc, node, values)

    def _clear(self):
        keep = set(self.fgraph.inputs)
        for var, cell in self.storage_map.items():
            if var not in keep and not isinstance(var, Constant):
                cell[0] = None
