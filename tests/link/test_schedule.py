"""The lazy schedule: jumps around branches, free lists, ordering constraints."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.graph.fgraph import FunctionGraph
from symgraph.ifelse import ifelse
from symgraph.link.schedule import Jump, free_lists, schedule


def test_without_lazy_ops_the_schedule_is_the_toposort():
    x = T.dvector("x")
    fgraph = FunctionGraph([x], [T.exp(x) + 1])
    assert schedule(fgraph) == fgraph.toposort()


def test_blocks_are_fenced_by_jumps():
    c, x = T.bscalar("c"), T.dvector("x")
    shared_part = T.exp(x)
    out = ifelse(c, T.sin(shared_part) * 2, T.cos(x))
    fgraph = FunctionGraph([c, x], [out, shared_part], clone=False)
    steps = schedule(fgraph)
    kinds = [type(s).__name__ for s in steps]
    first_jump = kinds.index("Jump")
    then_block = steps[first_jump + 1:steps[first_jump].target - 1]
    names = [n.op.scalar_op.name for n in then_block if hasattr(n.op, "scalar_op")]
    assert names == ["sin", "mul"]
    # exp(x) is needed outside the branch: computed before the first jump
    assert steps.index(shared_part.owner) < first_jump
    assert steps[-1] is out.owner
    goto = steps[steps[first_jump].target - 1]
    assert isinstance(goto, Jump) and goto.cond is None and goto.target == len(steps) - 1


def test_a_jump_frees_what_only_the_skipped_branch_reads():
    c, x = T.bscalar("c"), T.dvector("x")
    early = T.exp(x)  # computed before the jump (the condition reads it)
    out = ifelse(early.sum() > c, T.sin(early), T.cos(x))
    fgraph = FunctionGraph([c, x], [out], clone=False)
    steps = schedule(fgraph)
    frees = free_lists(fgraph, steps)
    jump = next(k for k, s in enumerate(steps) if isinstance(s, Jump) and s.cond is not None)
    assert early in frees[jump]


@pytest.mark.parametrize("linker", ["py", "cvm"])
def test_gc_leaves_no_intermediate_behind_on_either_path(linker, rng):
    c, x = T.dscalar("c"), T.dvector("x")
    early = T.exp(x)
    out = ifelse(early.sum() > c, T.sin(early), T.cos(x))
    f = sg.function([c, x], out, mode=sg.Mode(linker=linker, optimizer=None))
    v = rng.normal(size=3)
    for cv in (0.0, 1e9):
        f(cv, v)
        if linker == "py":
            vm = f.fn.vm
            computed = [var for var, cell in vm.storage_map.items()
                        if cell[0] is not None and var.owner is not None and
                        var not in f.maker.fgraph.outputs]
            assert computed == []


@pytest.mark.parametrize("linker", ["py", "cvm"])
def test_in_place_work_outside_a_branch_keeps_its_ordering(linker, rng):
    """y*... in a branch reads y; y + 1 outside may run in place on y: the branch
    reader must not be deferred past it (the block shrinks to keep the order)."""
    c, x = T.bscalar("c"), T.dvector("x")
    y = x * 3.0
    f = sg.function([c, x], [ifelse(c, T.exp(y), x), y + 1], mode=sg.Mode(linker=linker))
    v = rng.normal(size=4)
    a, b = f(1, v)
    np.testing.assert_allclose(a, np.exp(3 * v))
    np.testing.assert_allclose(b, 3 * v + 1)
    a, b = f(0, v)
    np.testing.assert_allclose(a, v)
    np.testing.assert_allclose(b, 3 * v + 1)
