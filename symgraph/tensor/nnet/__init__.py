"""Neural-network ops (Theano's ``theano.tensor.nnet``).

>>> import symgraph.tensor as T
>>> x = T.dmatrix('x')
>>> T.nnet.softmax(x).eval({x: [[0.0, 0.0]]}).tolist()
[[0.5, 0.5]]
"""
from symgraph.tensor.math import relu, sigmoid, softplus
from symgraph.tensor.nnet.activations import elu, hard_sigmoid, selu, softsign
from symgraph.tensor.nnet.conv import conv1d, conv2d
from symgraph.tensor.nnet.basic import (LogSoftmax, Softmax, SoftmaxGrad, log_softmax,
                                        logsoftmax, softmax, softmax_with_bias)
from symgraph.tensor.nnet.losses import (CrossentropyCategorical1Hot,
                                         CrossentropyCategorical1HotGrad, binary_crossentropy,
                                         categorical_crossentropy,
                                         crossentropy_categorical_1hot,
                                         crossentropy_softmax_1hot,
                                         crossentropy_softmax_1hot_with_bias,
                                         sigmoid_binary_crossentropy)
from symgraph.tensor.nnet.activations import hardtanh, ultra_fast_sigmoid
from symgraph.tensor.nnet.dropout import dropout
from symgraph.tensor.nnet.losses import (binary_hinge_loss, hinge, multiclass_hinge_loss,
                                         squared_error)
