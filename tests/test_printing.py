"""debugprint (tree with ids) and pprint (infix text)."""
import io
import re

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.printing import debugprint, pprint


def _ids(line):
    return re.findall(r"\[id (\w+)\]", line)


def test_debugprint_tree_and_shared_subexpression():
    x, w = T.dmatrix("x"), T.dmatrix("W")
    h = T.tanh(T.dot(x, w))
    out = h * h
    text = debugprint(out, file="str")
    assert text == (
        "Elemwise{mul} [id A]\n"
        " |Elemwise{tanh} [id B]\n"
        " | |Dot [id C]\n"
        " |   |x [id D]\n"
        " |   |W [id E]\n"
        " |Elemwise{tanh} [id B]\n"
    )


def test_debugprint_ids_are_unique_per_node_and_reused_per_reference():
    x = T.dvector("x")
    e = T.exp(x)
    out = (e + x) * (e - x)
    text = debugprint(out, file="str")
    assert text == (
        "Elemwise{mul} [id A]\n"
        " |Elemwise{add} [id B]\n"
        " | |Elemwise{exp} [id C]\n"
        " | | |x [id D]\n"
        " | |x [id D]\n"
        " |Elemwise{sub} [id E]\n"
        "   |Elemwise{exp} [id C]\n"
        "   |x [id D]\n"
    )
    lines = text.splitlines()
    labels = {}
    for line in lines:
        (ident,) = _ids(line)
        label = line.strip(" |").split(" [id")[0]
        assert labels.setdefault(ident, label) == label  # one id, one thing


def test_debugprint_of_a_compiled_function_shows_the_optimized_graph():
    x = T.dvector("x")
    w = sg.shared(np.random.default_rng(0).normal(size=3), name="w")
    f = sg.function([x], T.exp(x) * w, updates={w: w * 2.0}, mode=sg.Mode(optimizer=None))
    text = debugprint(f, file="str")
    assert text == (
        "Elemwise{mul} [id A]\n"
        " |Elemwise{exp} [id B]\n"
        " | |x [id C]\n"
        " |w [id D]\n"
        "Elemwise{mul} [id E]  (update of w)\n"
        " |w [id D]\n"
        " |DimShuffle{x} [id F]\n"
        "   |TensorConstant{2.0} [id G]\n"
    )
    # with the default rewrites: whatever they did, what is printed is the function's graph
    f = sg.function([x], T.exp(x) * w, updates={w: w * 2.0})
    text = debugprint(f, file="str")
    assert "(update of w)" in text
    assert text.replace("  (update of w)", "") == debugprint(f.maker.fgraph, file="str")


def test_debugprint_print_type_and_storage():
    x = T.fmatrix("x")
    text = debugprint(T.exp(x), file="str", print_type=True)
    assert text.splitlines() == ["Elemwise{exp} [id A] <Tensor{float32, (?, ?)}>",
                                 " |x [id B] <Tensor{float32, (?, ?)}>"]
    w = sg.shared(np.array([1.5, -2.0]), name="w")
    text = debugprint(w * 2.0, file="str", print_storage=True)
    assert "storage=[ 1.5, -2. ]" in text


def test_debugprint_id_styles_and_depth():
    x = T.dvector("x")
    out = T.exp(T.tanh(x))
    assert "[id" not in debugprint(out, file="str", ids="")
    ints = debugprint(out, file="str", ids="int")
    assert _ids(ints) == ["0", "1", "2"]
    python_ids = debugprint(out, file="str", ids="id")
    assert _ids(python_ids)[0] == str(id(out.owner))
    assert debugprint(out, file="str", depth=1) == "Elemwise{exp} [id A]\n"
    assert len(debugprint(out, file="str", depth=2).splitlines()) == 2
    with pytest.raises(ValueError, match="ids"):
        debugprint(out, file="str", ids="letters")


def test_debugprint_of_lists_apply_and_multiple_outputs():
    x = T.dvector("x")
    a, b = T.exp(x), T.log(x)
    text = debugprint([a, b], file="str")
    assert text.splitlines()[0] == "Elemwise{exp} [id A]"
    assert "Elemwise{log} [id C]" in text and text.count("x [id B]") == 2
    assert debugprint(a.owner, file="str") == debugprint(a, file="str")
    parts = T.split(x, [1, 2], 2)
    text = debugprint(parts, file="str")
    assert "Split{2, 0}.0 [id A]" in text and "Split{2, 0}.1 [id A]" in text


def test_debugprint_file_arguments(capsys):
    x = T.dvector("x")
    out = T.exp(x)
    assert debugprint(out) is out
    assert capsys.readouterr().out == "Elemwise{exp} [id A]\n |x [id B]\n"
    stream = io.StringIO()
    assert debugprint(out, file=stream) is stream
    assert stream.getvalue() == "Elemwise{exp} [id A]\n |x [id B]\n"
    with pytest.raises(TypeError, match="cannot print"):
        debugprint(42, file="str")


def test_debugprint_names_named_intermediates_and_constants():
    x = T.dvector("x")
    hidden = T.tanh(x)
    hidden.name = "hidden"
    text = debugprint(hidden + T.constant(np.array([3.0, 4.0])), file="str")
    assert "Elemwise{tanh} [id B] 'hidden'" in text
    assert "TensorConstant{[3. 4.]}" in text


def test_debugprint_of_a_deep_graph():
    x = T.dscalar("x")
    out = x
    for _ in range(2000):
        out = T.neg(out)
    lines = debugprint(out, file="str", ids="").splitlines()
    assert len(lines) == 2001 and lines[-1].endswith("x")


def test_pprint_infix():
    x, y = T.dvectors("x", "y")
    assert pprint(x + y * 2) == "(x + (y * 2.0))"
    assert pprint((x - y) / x) == "((x - y) / x)"
    assert pprint(-x ** 2) == "-(x ** 2.0)"  # the weak 2 took x's dtype
    assert pprint(T.add(x, y, x)) == "(x + y + x)"
    assert pprint(x > y) == "(x > y)"


def test_pprint_calls_indexing_and_reductions():
    x, y = T.dvectors("x", "y")
    w = T.dmatrix("W")
    assert pprint(T.tanh(T.dot(x, w))) == "tanh(dot(x, W))"
    assert pprint(x[1:3]) == "x[1:3]"
    assert pprint(w[0, ::2]) == "W[0, ::2]"
    assert pprint(w.T) == "W.T"
    assert pprint(w.sum()) == "sum(W)"
    assert pprint(w.max(axis=1)) == "max(W, axis=1)"
    assert pprint(w.shape[0]) == "W.shape[0]"
    assert pprint(w.dimshuffle(1, "x", 0)) == "W.dimshuffle(1, 'x', 0)"
    assert pprint(x[[0, 2]]) == "x[[0, 2]]"
    assert pprint(T.switch(x > 0, x, y)) == "switch((x > 0.0), x, y)"
    assert pprint(T.set_subtensor(x[1:], 5.0)) == "set_subtensor(x[1:], 5.0)"


def test_pprint_of_a_function_and_a_list():
    x = T.dvector("x")
    f = sg.function([x], [T.exp(x), x * 3.0], mode=sg.Mode(optimizer=None))
    assert pprint(f) == "exp(x)\n(x * 3.0)"
    assert pprint([T.exp(x), T.log(x)]) == "exp(x)\nlog(x)"


def test_pprint_values_match_the_expression():
    """The printed expression, evaluated with NumPy, gives what the graph computes."""
    rng = np.random.default_rng(3)
    x, y = T.dvectors("x", "y")
    out = T.tanh(x * y + 2.0) / (y - x)
    xv, yv = rng.normal(size=4), rng.normal(size=4)
    text = pprint(out)
    expected = eval(text, {"tanh": np.tanh, "x": xv, "y": yv})
    np.testing.assert_allclose(out.eval({x: xv, y: yv}), expected)
