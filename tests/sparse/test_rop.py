"""Forward mode (``sg.Rop``) through the sparse ops, checked against central differences
``(f(x + eps e) - f(x - eps e)) / (2 eps)``.  A sparse input's tangent has the input's
pattern (only its stored values move), as a structured perturbation would."""
import numpy as np
import pytest
import scipy.sparse as sp

import symgraph as sg
import symgraph.tensor as T
from symgraph import sparse as S
from symgraph.sparse.subtensor import _parse
from tests.sparse.checks import MODES, dense, random_sparse, variable_for

LINKERS = ["py", "cvm"]


def _tangent_for(value, rng):
    """A random tangent of ``value``'s type; a sparse one has ``value``'s pattern."""
    if sp.issparse(value):
        tangent = value.copy()
        tangent.data = rng.normal(size=value.nnz).astype(value.dtype)
        return tangent
    return rng.normal(size=np.shape(value)).astype(np.asarray(value).dtype)


def _moved(value, tangent, step):
    if sp.issparse(value):
        moved = value.copy()
        moved.data = value.data + step * tangent.data
        return moved
    return value + step * tangent


def check_rop(fn, values, wrt, rng, mode, eps=1e-6, rtol=1e-6, atol=1e-8):
    """Compare ``sg.Rop(fn(*inputs), inputs[wrt], tangents)`` with central differences.

    ``values`` are the input values, ``wrt`` the positions of the inputs that move.
    """
    variables = [variable_for(v, f"in{k}") for k, v in enumerate(values)]
    out = fn(*variables)
    points = [variable_for(values[k], f"e{k}") for k in wrt]
    rop = sg.Rop(out, [variables[k] for k in wrt], points)
    assert rop.type == out.type, f"tangent of type {rop.type} for an output of type {out.type}"
    tangents = [_tangent_for(values[k], rng) for k in wrt]
    f_rop = sg.function(variables + points, rop, mode=mode, on_unused_input="ignore")
    f_out = sg.function(variables, out, mode=mode, on_unused_input="ignore")

    def out_at(step):
        moved = list(values)
        for k, t in zip(wrt, tangents):
            moved[k] = _moved(values[k], t, step)
        return dense(f_out(*moved)).astype("float64")

    numeric = (out_at(eps) - out_at(-eps)) / (2 * eps)
    analytic = dense(f_rop(*values, *tangents))
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol, equal_nan=False)
    return analytic


def _sparse(rng, shape=(5, 4), format="csr", density=0.5):
    return random_sparse(rng, shape, format, density=density)


def _dense(rng, *shape):
    return rng.normal(size=shape)


# (name, fn, value makers, wrt): each maker takes the rng
CASES = [
    ("neg", lambda x: -x, [_sparse], [0]),
    ("as_format", lambda x: S.as_format(x, "csc"), [_sparse], [0]),
    ("transpose", lambda x: x.T, [lambda r: _sparse(r, format="csc")], [0]),
    ("dense_from_sparse", S.dense_from_sparse, [_sparse], [0]),
    ("csr_from_dense", S.csr_from_dense,
     [lambda r: _dense(r, 4, 3) * (r.random((4, 3)) < 0.6)], [0]),
    ("csc_from_dense", S.csc_from_dense, [lambda r: _dense(r, 4, 3)], [0]),
    ("csm_data", S.csm_data, [_sparse], [0]),
    ("sp_sum", lambda x: S.sp_sum(x), [_sparse], [0]),
    ("sp_sum_axis0", lambda x: S.sp_sum(x, axis=0, sparse_grad=True), [_sparse], [0]),
    ("sp_sum_axis1", lambda x: S.sp_sum(x, axis=1), [lambda r: _sparse(r, format="csc")], [0]),
    ("getitem_slices", lambda x: x[1:4, ::2], [_sparse], [0]),
    ("getitem_rows", lambda x: x[[3, 0, 3]], [lambda r: _sparse(r, format="csc")], [0]),
    ("getitem_int", lambda x: x[:, -1], [_sparse], [0]),
    ("getitem_entry", lambda x: x[2, 1], [lambda r: _sparse(r, density=1.0)], [0]),
    ("add_ss", S.add, [_sparse, lambda r: _sparse(r, format="csc")], [0, 1]),
    ("add_ss_second", S.add, [_sparse, lambda r: _sparse(r, format="csc")], [1]),
    ("add_sd", S.add, [_sparse, lambda r: _dense(r, 5, 4)], [0, 1]),
    ("add_sd_sparse_only", S.add, [_sparse, lambda r: _dense(r, 5, 4)], [0]),
    ("add_sd_row", S.add, [_sparse, lambda r: _dense(r, 4)], [1]),
    ("sub_ss", S.sub, [_sparse, _sparse], [0, 1]),
    ("mul_ss", S.mul, [_sparse, _sparse], [0, 1]),
    ("mul_ss_first", S.mul, [_sparse, lambda r: _sparse(r, format="csc")], [0]),
    ("mul_sd", S.mul, [_sparse, lambda r: _dense(r, 5, 4)], [0, 1]),
    ("mul_sd_row", S.mul, [lambda r: _sparse(r, format="csc"), lambda r: _dense(r, 4)], [0, 1]),
    ("mul_sd_scalar", S.mul, [_sparse, lambda r: np.float64(r.normal())], [1]),
    ("true_div", S.true_div, [_sparse, lambda r: 2 + r.random((5, 1))], [0, 1]),
    ("dot_sd", S.dot, [_sparse, lambda r: _dense(r, 4, 3)], [0, 1]),
    ("dot_sv", S.dot, [_sparse, lambda r: _dense(r, 4)], [0, 1]),
    ("dot_vs", S.dot, [lambda r: _dense(r, 5), _sparse], [0, 1]),
    ("dot_ds", S.dot, [lambda r: _dense(r, 2, 5), lambda r: _sparse(r, format="csc")], [0, 1]),
    ("dot_ss", S.dot, [_sparse, lambda r: _sparse(r, (4, 3), "csc")], [0, 1]),
    ("structured_dot_sd", S.structured_dot, [_sparse, lambda r: _dense(r, 4, 3)], [0, 1]),
    ("structured_dot_ss", S.structured_dot,
     [lambda r: _sparse(r, format="csc"), lambda r: _sparse(r, (4, 3))], [0, 1]),
    ("structured_dot_ds", S.structured_dot, [lambda r: _dense(r, 2, 5), _sparse], [0, 1]),
    ("sampling_dot", S.sampling_dot,
     [lambda r: _dense(r, 5, 3), lambda r: _dense(r, 4, 3), _sparse], [0, 1, 2]),
    ("sampling_dot_p", S.sampling_dot,
     [lambda r: _dense(r, 5, 3), lambda r: _dense(r, 4, 3), _sparse], [2]),
    ("structured_add_s_v", S.structured_add_s_v, [_sparse, lambda r: _dense(r, 4)], [0, 1]),
    ("structured_add_s_v_vector", S.structured_add_s_v,
     [lambda r: _sparse(r, format="csc"), lambda r: _dense(r, 4)], [1]),
    ("structured_add_scalar", lambda x, y: S.structured_add(x, y),
     [_sparse, lambda r: np.float64(r.normal())], [0, 1]),
    ("structured_sigmoid", S.structured_sigmoid, [_sparse], [0]),
    ("structured_exp", S.structured_exp, [lambda r: _sparse(r, format="csc")], [0]),
    ("structured_log", lambda x: S.structured_log(S.abs_(x)), [_sparse], [0]),
    ("structured_pow", lambda x, y: S.structured_pow(S.abs_(x), y),
     [_sparse, lambda r: np.float64(2.5)], [0, 1]),
    ("structured_maximum", lambda x: S.structured_maximum(x, -0.05), [_sparse], [0]),
    ("zero_preserving", lambda x: S.tanh(S.sin(x)) + S.sqr(x) + S.sqrt(S.abs_(x)),
     [_sparse], [0]),
    ("shape_times_values", lambda x: S.dense_from_sparse(x) * x.shape[0], [_sparse], [0]),
]


@pytest.mark.parametrize("linker", LINKERS)
@pytest.mark.parametrize("name, fn, makers, wrt", CASES, ids=[c[0] for c in CASES])
def test_rop_matches_central_differences(rng, linker, name, fn, makers, wrt):
    values = [make(rng) for make in makers]
    check_rop(fn, values, wrt, rng, MODES[linker])


def test_rop_is_not_zero(rng):
    # the checks above could pass on an R-op of zeros only if f were constant too
    value = _sparse(rng)
    analytic = check_rop(S.structured_exp, [value], [0], rng, MODES["py"])
    assert np.abs(analytic).max() > 0.1


def test_cast_tangent_has_the_output_dtype(rng):
    value = _sparse(rng)
    analytic = check_rop(lambda x: S.cast(x, "float32"), [value], [0], rng, MODES["py"],
                         eps=0.5, rtol=1e-5, atol=1e-6)
    assert analytic.dtype == np.float32


def test_csm_is_linear_in_data(rng):
    shape = (4, 5)
    template = _sparse(rng, shape)
    values = [template.data.copy(), template.indices.astype("int32"),
              template.indptr.astype("int32"), np.asarray(shape, dtype="int64")]
    analytic = check_rop(lambda *parts: S.CSR(*parts), values, [0], rng, MODES["py"])
    assert np.all(analytic[template.toarray() == 0] == 0)


@pytest.mark.parametrize("sparse_g", [False, True])
def test_csm_grad_is_linear_in_the_gradient(rng, sparse_g):
    template = _sparse(rng, format="csc")
    g = _sparse(rng, density=0.7) if sparse_g else _dense(rng, 5, 4)
    values = [g, template.indices.astype("int32"), template.indptr.astype("int32"),
              np.asarray(template.shape, dtype="int64")]
    check_rop(lambda *parts: S.CSMGrad("csc")(*parts), values, [0], rng, MODES["py"])


@pytest.mark.parametrize("sparse_gz", [False, True])
def test_getitem_grad_is_linear_in_the_gradient(rng, sparse_gz):
    idx_list, index_inputs = _parse((slice(1, 4), [2, 0, 2]))
    x = _sparse(rng)
    gz = _sparse(rng, (3, 3), density=0.6) if sparse_gz else _dense(rng, 3, 3)
    check_rop(lambda x, gz: S.GetItemGrad(idx_list)(x, gz, *index_inputs), [x, gz], [1], rng,
              MODES["py"])


def test_rop_through_a_chain_of_sparse_ops(rng):
    def fn(x, w, v):
        hidden = S.structured_sigmoid(S.mul(x, S.dot(x, w)[:, :1]))  # sparse, x's pattern
        return T.dot(v, S.sp_sum(hidden, axis=1, sparse_grad=True) + S.dot(hidden, w)[:, 0])
    values = [_sparse(rng, (5, 5)), _dense(rng, 5, 2), _dense(rng, 5)]
    for wrt in ([0], [1], [0, 1, 2]):
        check_rop(fn, values, wrt, rng, MODES["py"])


def test_eval_point_must_have_the_wrt_type():
    x, e_csc = S.csr_matrix("x"), S.csc_matrix("e")
    with pytest.raises(TypeError, match="same type"):
        sg.Rop(-x, x, e_csc)
    with pytest.raises(TypeError, match="same type"):
        sg.Rop(-x, x, T.dmatrix("e"))


def test_eval_point_may_be_a_sparse_value(rng):
    value = _sparse(rng)
    tangent = _tangent_for(value, rng)
    x = S.csr_matrix("x")
    result = sg.function([x], sg.Rop(S.sp_sum(x, axis=0) * 2.0, x, tangent),
                         on_unused_input="ignore")(value)
    np.testing.assert_allclose(result, 2 * tangent.toarray().sum(axis=0))


def test_disconnected_sparse_output_gives_zeros(rng):
    x, y, e = S.csr_matrix("x"), S.csr_matrix("y"), S.csr_matrix("e")
    zero = sg.Rop(-y, x, e, disconnected_outputs="ignore")
    assert zero.type == y.type
    assert sg.function([y], zero)(_sparse(rng)).nnz == 0


@pytest.mark.parametrize("linker", LINKERS)
def test_gauss_newton_product_of_sparse_logistic_regression(rng, linker):
    # J^T J v through Lop(Rop): the Gauss-Newton matrix-vector product of the
    # predictions with respect to the weights
    features = _sparse(rng, (12, 5), density=0.4)
    w_value, v_value = _dense(rng, 5), _dense(rng, 5)
    x, w, v = S.csr_matrix("x"), T.dvector("w"), T.dvector("v")
    predictions = T.sigmoid(S.dot(x, w) + 0.3)
    gauss_newton = sg.Lop(predictions, w, sg.Rop(predictions, w, v))
    mode = MODES[linker]
    analytic = sg.function([x, w, v], gauss_newton, mode=mode)(features, w_value, v_value)

    f = sg.function([x, w], predictions, mode=mode)
    eps = 1e-6
    jacobian = np.stack([(f(features, w_value + eps * step) - f(features, w_value - eps * step))
                         / (2 * eps) for step in np.eye(5)], axis=1)
    np.testing.assert_allclose(analytic, jacobian.T @ (jacobian @ v_value), rtol=1e-6, atol=1e-9)
    assert np.abs(analytic).max() > 1e-3


def test_every_sparse_op_with_a_gradient_has_an_r_op():
    # the generic R-op derived from the L-op does not handle sparse tangents
    import importlib
    import inspect

    from symgraph.graph.basic import Op

    modules = [importlib.import_module(f"symgraph.sparse.{name}")
               for name in ("basic", "dot", "math", "structured", "subtensor")]
    ops = {obj for module in modules for obj in vars(module).values()
           if inspect.isclass(obj) and issubclass(obj, Op) and obj.__module__.startswith(
               "symgraph.sparse")}
    missing = [op.__name__ for op in ops if ("grad" in vars(op) or "L_op" in vars(op))
               and "R_op" not in vars(op)]
    assert {"Dot", "SamplingDot", "GetItemGrad"} <= {op.__name__ for op in ops}
    assert missing == []
