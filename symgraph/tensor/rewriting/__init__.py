"""The tensor rewrites, next to the ops they rewrite; importing this package registers
them in the pipeline (``symgraph.rewriting.pipeline``).

- ``shape``: the ShapeFeature and shape rewrites;
- ``basic``: casts and allocations;
- ``elemwise``: dimshuffles, SumToShape, allocs feeding elementwise ops;
- ``math``: algebra (canonical sums and products, useless operands, powers) and the
  numerically stable forms (log1p, expm1, softplus, log-sum-exp).
"""
from symgraph.tensor.rewriting import shape  # noqa: F401  (first: the others use it)
from symgraph.tensor.rewriting import basic, elemwise, math  # noqa: F401
from symgraph.tensor.rewriting.shape import ShapeFeature  # noqa: F401
