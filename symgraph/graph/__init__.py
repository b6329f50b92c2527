"""The graph IR and the tools that walk and edit it."""
from symgraph.graph.basic import Apply, Constant, Op, Type, Variable
from symgraph.graph.fgraph import Feature, FunctionGraph, InconsistencyError
from symgraph.graph.replace import clone, clone_get_equiv, clone_replace
from symgraph.graph.traversal import ancestors, graph_inputs, io_toposort, toposort
