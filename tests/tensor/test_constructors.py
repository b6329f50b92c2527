import pytest

import symgraph as sg
import symgraph.tensor as T


@pytest.mark.parametrize("name, ndim, dtype", [
    ("scalar", 0, None), ("vector", 1, None), ("matrix", 2, None), ("tensor3", 3, None),
    ("tensor4", 4, None), ("fmatrix", 2, "float32"), ("dvector", 1, "float64"),
    ("ivector", 1, "int32"), ("lscalar", 0, "int64"), ("bmatrix", 2, "int8"),
    ("wvector", 1, "int16"), ("ftensor4", 4, "float32"),
])
def test_constructors(name, ndim, dtype):
    var = getattr(T, name)("v")
    assert var.ndim == ndim
    assert var.dtype == (dtype or sg.config.floatX)
    assert var.name == "v"


def test_floatx_follows_config():
    with sg.config.change_flags(floatX="float32"):
        assert T.matrix().dtype == "float32"
    assert T.matrix().dtype == sg.config.floatX


def test_plural_constructors():
    a, b, c = T.dscalars("a", "b", "c")
    assert [v.name for v in (a, b, c)] == ["a", "b", "c"]
    assert len(T.fmatrices(2)) == 2


def test_tensor_with_static_shape():
    x = T.tensor("float32", (None, 3), name="x")
    assert x.type.shape == (None, 3)
    assert T.tensor(shape=(2,)).dtype == sg.config.floatX
    assert T.row().type.shape == (1, None)
    assert T.col().type.shape == (None, 1)
