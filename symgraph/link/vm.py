"""The Python virtual machine: runs each node's ``perform`` in schedule order.

Storage is one cell (a 1-element list) per variable; a node reads its input
cells and writes its output cells.  The schedule (``link/schedule.py``) may
hold jumps around the branches of lazy ops, so only the branch taken is
computed.  Intermediates are freed after their last use (``gc``).  This VM
is the reference every faster backend is checked against.
"""
import time

from symgraph.graph.basic import Constant
from symgraph.link.errors import raise_with_node_info
from symgraph.link.schedule import Jump, free_lists


class PythonVM:
    """Executes ``steps`` (``schedule(fgraph)``: nodes and jumps) over ``storage_map``.

    ``nodes`` holds each step's Apply node (None for a jump), as the C VM's does.
    """

    def __init__(self, fgraph, steps, storage_map, gc=True):
        self.fgraph, self.storage_map = fgraph, storage_map
        self.nodes = [None if isinstance(s, Jump) else s for s in steps]
        self.thunks = [self._jump(s) if isinstance(s, Jump) else self._thunk(s) for s in steps]
        self.lazy = any(isinstance(s, Jump) for s in steps)
        self.free_after = None
        if gc:
            self.free_after = [[storage_map[v] for v in free]
                               for free in free_lists(fgraph, steps)]

    def _jump(self, jump):
        """A thunk returning the step to continue at (None: the next one)."""
        target = jump.target
        if jump.cond is None:
            return lambda: target
        cond = self.storage_map[jump.cond]
        return lambda: None if cond[0] else target

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

        self.thunks = [thunk if node is None else timed(k, thunk)
                       for k, (node, thunk) in enumerate(zip(self.nodes, self.thunks))]

    def __call__(self):
        k = 0
        try:
            if self.lazy:
                thunks, free_after = self.thunks, self.free_after
                while k < len(thunks):
                    target = thunks[k]()
                    if free_after is not None and (target is not None or
                                                   self.nodes[k] is not None):
                        for cell in free_after[k]:  # a jump's frees apply when it jumps
                            cell[0] = None
                    k = k + 1 if target is None else target
            elif self.free_after is None:
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
