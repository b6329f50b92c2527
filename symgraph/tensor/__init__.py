"""Symbolic tensors and the operations on them (Theano's ``theano.tensor``)."""
from symgraph.tensor.type import TensorType, upcast
from symgraph.tensor.var import (TensorConstant, TensorVariable, as_tensor, as_tensor_variable,
                                 constant)
from symgraph.tensor.constructors import *  # noqa: F401,F403
from symgraph.tensor.elemwise import DimShuffle, Elemwise
from symgraph.tensor.math import *  # noqa: F401,F403
from symgraph.tensor.math import (abs, all, any, max, min, pow, round, sum)  # noqa: A004
from symgraph.tensor.basic import *  # noqa: F401,F403
from symgraph.tensor.shape import Reshape, Shape, Shape_i, SpecifyShape, specify_shape
from symgraph.tensor.subtensor import (AdvancedIncSubtensor, AdvancedSubtensor, IncSubtensor,
                                       Subtensor, inc_subtensor, set_subtensor, take)
from symgraph.tensor import extra_ops, nnet, sort
from symgraph.tensor.extra_ops import *  # noqa: F401,F403
from symgraph.tensor.sort import argsort, sort  # noqa: F811
from symgraph.gradient import Lop, Rop, grad, hessian, jacobian, verify_grad
