"""The tensor rewrites, next to the ops they rewrite; importing this package registers
them in the pipeline (``symgraph.rewriting.pipeline``).

- ``shape``: the ShapeFeature and shape rewrites;
- ``basic``: casts and allocations;
- ``elemwise``: dimshuffles, SumToShape, allocs feeding elementwise ops, and the fusion of
  elementwise chains into one Composite;
- ``math``: algebra (canonical sums and products, useless operands, powers) and the
  numerically stable forms (log1p, expm1, softplus, log-sum-exp);
- ``subtensor``: increments by zeros, into zeros, and row scatters;
- ``blas``: dot plus scaled additions as gemm/gemv/ger (specialize);
- ``inplace``: in-place Elemwise and IncSubtensor (the DestroyHandler decides);
- ``symgraph.tensor.nnet.rewriting``: log-softmax and the fused softmax cross-entropy.
"""
from symgraph.tensor.rewriting import shape  # noqa: F401  (first: the others use it)
from symgraph.tensor.rewriting import basic, elemwise, math  # noqa: F401
from symgraph.tensor.rewriting import blas, subtensor  # noqa: F401
from symgraph.tensor.nnet import rewriting as nnet_rewriting  # noqa: F401
from symgraph.tensor.rewriting import inplace  # noqa: F401  (fusion lives in elemwise)
from symgraph.tensor.rewriting.shape import ShapeFeature  # noqa: F401
