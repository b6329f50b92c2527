"""symgraph: a symbolic graph compiler for Python, in the line of Theano.

>>> import symgraph as sg
>>> import symgraph.tensor as T
>>> x = T.dvector('x')
>>> f = sg.function([x], sg.grad((x ** 2).sum(), x))
>>> f([1.0, 2.0]).tolist()
[2.0, 4.0]
"""
from symgraph.config import config, change_flags
from symgraph.compile import In, Mode, Out, SharedVariable, function, shared
from symgraph.gradient import Lop, Rop, grad, hessian, jacobian, verify_grad
from symgraph.graph.basic import Apply, Constant, Op, Type, Variable
from symgraph.graph.fgraph import FunctionGraph
from symgraph.graph.replace import clone_replace
from symgraph.ifelse import ifelse
from symgraph import tensor, printing
from symgraph.scan import scan
from symgraph.tensor import random as _random  # noqa: F401  (shared() of a Generator)
from symgraph import sparse  # imports no SciPy until a sparse value is used

__version__ = "0.1.0"
