"""The standard rewrite pipeline, ``optdb``, and the stages rewrites register into.

Positions in ``optdb`` (lowest first):

- 0 ``merge1``: merge equal constants and subexpressions;
- 0.1 ``shape_feature``: attach the ShapeFeature (symbolic shapes, on demand);
- 0.5 ``constant_folding``;
- 1 ``canonicalize``: one form per computation (useless ops removed, chains
  flattened and sorted, constants collected);
- 1.5 ``stabilize``: numerically stable forms (log1p, softplus, log-sum-exp, ...);
- 2 ``specialize``: faster forms (sqr, sqrt, inv, ...);
- 49 ``merge2``; 49.5 ``fusion`` and 75 ``inplace`` (empty until elementwise fusion
  and in-place rewrites land); 100 ``merge3``.

Each of canonicalize, stabilize and specialize folds constants as they appear
and merges at the end of every round.  Modes select from ``optdb`` with a query:
``fast_run`` takes everything tagged fast_run, ``fast_compile`` only the cheap
rewrites tagged fast_compile.  Tensor rewrites live next to their ops in
``symgraph/tensor/rewriting`` and register here with ``register_canonicalize``
and friends.

>>> import symgraph.tensor.rewriting  # registers the tensor rewrites
>>> from symgraph.rewriting.db import RewriteQuery
>>> rewriter = optdb.query(RewriteQuery(include=['fast_compile']))
>>> [r.name for r in rewriter.rewriters]
['merge1', 'shape_feature', 'constant_folding', 'canonicalize']
"""
from symgraph.rewriting.basic import ConstantFolding, MergeRewriter, constant_folding_node
from symgraph.rewriting.db import EquilibriumDB, SequenceDB


def _merge(name):
    rewriter = MergeRewriter()
    rewriter.name = name
    return rewriter


optdb = SequenceDB("optdb")
canonicalize = EquilibriumDB("canonicalize")
stabilize = EquilibriumDB("stabilize")
specialize = EquilibriumDB("specialize")
fusion = SequenceDB("fusion")
inplace = SequenceDB("inplace")

optdb.register("merge1", _merge("merge1"), "fast_run", "fast_compile", "merge", position=0)
optdb.register("canonicalize", canonicalize, "fast_run", "fast_compile", position=1)
optdb.register("stabilize", stabilize, "fast_run", position=1.5)
optdb.register("specialize", specialize, "fast_run", position=2)
optdb.register("merge2", _merge("merge2"), "fast_run", "merge", position=49)
optdb.register("fusion", fusion, "fast_run", position=49.5)
optdb.register("inplace", inplace, "fast_run", position=75)
optdb.register("merge3", _merge("merge3"), "fast_run", "merge", position=100)

# Constants made by rewrites fold as they appear; merge ends each round so
# that duplicates created by rewrites become one node before the next round.
for _stage in (canonicalize, stabilize, specialize):
    _stage.register("constant_folding", constant_folding_node, "fast_run", "fast_compile",
                    position=-1)
    _stage.register(f"{_stage.name}_merge", _merge(f"{_stage.name}_merge"), "fast_run",
                    "fast_compile", "merge", final=True)
optdb.register("constant_folding", ConstantFolding(), "fast_run", "fast_compile", position=0.5)


def _registrar(db, default_tags):
    def register(rewriter=None, *tags, name=None, position=None):
        """Register a node rewriter (usable as a decorator, with or without tags)."""
        if isinstance(rewriter, str):  # called as @register('tag', ...)
            tags = (rewriter,) + tags
            return lambda r: register(r, *tags, name=name, position=position)
        db.register(name or rewriter.name, rewriter, *default_tags, *tags, position=position)
        return rewriter

    return register


register_canonicalize = _registrar(canonicalize, ("fast_run", "canonicalize"))
register_stabilize = _registrar(stabilize, ("fast_run", "stabilize"))
register_specialize = _registrar(specialize, ("fast_run", "specialize"))
register_canonicalize.__doc__ = """Register a node rewriter in ``canonicalize`` (tags: fast_run,
canonicalize and the given ones; add 'fast_compile' for cheap, always-safe ones).

Use it as ``@register_canonicalize`` or ``@register_canonicalize('tag', ...)``
above a ``@node_rewriter``.

>>> import symgraph.tensor.rewriting
>>> 'local_useless_cast' in canonicalize
True
"""
register_stabilize.__doc__ = "Register a node rewriter in ``stabilize`` (see above)."
register_specialize.__doc__ = "Register a node rewriter in ``specialize`` (see above)."
