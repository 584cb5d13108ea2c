"""nnlib: the small neural-network library built in the chapters of the nnlib book.

    import nnlib as nn
    eng = nn.native_float()
    inference = nn.inference_network(eng, 2, [nn.fully_connected(4, nn.tanh),
                                              nn.fully_connected(1, nn.sigmoid)])
    training = nn.training_network(inference, x)
    nn.sgd(training, y, nn.quadratic_cost, 10, 0.05)

The engines (``nnlib/engines/``) are written by hand; the other modules are exported from the
chapter notebooks by ``tools/export.py``. This file only gathers the public names.
"""

from .engines import (Engine, EngineUnavailable, available_engines, cuda_float, native_double,
                      native_float, opencl_float)
from .activations import Activation, sigmoid, tanh
from .layers import fully_connected
from .network import inference_network, training_network
from .cost import Cost, quadratic_cost
from .training import TrainingDiverged, sgd
from .gradcheck import check_gradients
from . import init
from .init import glorot
from .minibatch import accuracy, one_hot, predict, train

__version__ = "0.1.0"
