"""The rewrite framework: rewriters, databases, the equilibrium driver, merge and
constant folding, and the standard pipeline (``pipeline.optdb``)."""
from symgraph.rewriting.core import (EquilibriumGraphRewriter, GraphRewriter, NodeRewriter,
                                     RewriteWarning, SequentialGraphRewriter, graph_rewriter,
                                     node_rewriter)
from symgraph.rewriting.db import EquilibriumDB, RewriteQuery, SequenceDB
