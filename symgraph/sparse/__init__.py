"""Sparse matrices (Theano's ``theano.sparse``): CSR and CSC variables whose values are
``scipy.sparse`` matrices.

Two kinds of gradient, as in Theano.  A *regular* gradient is the true one: with
respect to a sparse input it may be dense (``dot``, ``add``, ``sp_sum``...).  A
*structured* gradient keeps the sparse input's pattern: only its stored entries are
treated as variables (``structured_dot``, ``sampling_dot`` for ``p``, the
``structured_*`` ops, ``sp_sum(sparse_grad=True)``, ``dense_from_sparse``).

SciPy is imported only when a sparse value is first handled.

>>> import numpy as np, scipy.sparse as sp, symgraph as sg
>>> from symgraph import sparse
>>> x = sparse.csr_matrix('x', dtype='float64')
>>> w = sg.tensor.dmatrix('w')
>>> f = sg.function([x, w], sparse.dot(x, w))
>>> f(sp.identity(2, format='csr'), np.ones((2, 1))).tolist()
[[1.0], [1.0]]
"""
from symgraph.sparse.type import SparseType
from symgraph.sparse.var import (SparseConstant, SparseVariable, as_sparse,
                                 as_sparse_or_tensor_variable, as_sparse_variable, constant,
                                 csc_matrix, csr_matrix, is_sparse_variable, matrix)
from symgraph.sparse.basic import (CSC, CSM, CSR, AsFormat, Cast, CSMGrad, CSMProperties,
                                   DenseFromSparse, Neg, SparseFromDense, SparseShape, Transpose,
                                   as_format, cast, csc_from_dense, csm_data, csm_indices,
                                   csm_indptr, csm_properties, csm_shape, csr_from_dense,
                                   dense_from_sparse, neg, sp_ones_like, sp_zeros_like,
                                   sparse_shape, transpose)
from symgraph.sparse.math import (AddSD, AddSS, MulSD, MulSS, SpSum, add, mul,
                                  restrict_to_pattern, sp_sum, sub, true_div)
from symgraph.sparse.dot import Dot, SamplingDot, StructuredDot, dot, sampling_dot, structured_dot
from symgraph.sparse.structured import (StructuredAddSV, abs_, arcsin, arctan, ceil, expm1, floor,
                                        log1p, sgn, sin, sinh, sqr, sqrt, structured_add,
                                        structured_add_s_v, structured_exp, structured_log,
                                        structured_maximum, structured_minimum, structured_monoid,
                                        structured_pow, structured_sigmoid, tan, tanh, trunc)
from symgraph.sparse.subtensor import GetItem, GetItemGrad, getitem
from symgraph.sparse.sharedvar import SparseSharedVariable, sparse_constructor

shared = sparse_constructor
