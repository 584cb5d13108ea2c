"""The same misuse gets the same clear error on every engine, before anything changes.

Released matrices (``eng.release``) are refused by every operation and through the networks, and
so are the views that share their buffer; released networks refuse every entry point; ``nn.train``
and ``nn.predict`` refuse bad arguments. The last tests run each misuse on every engine that
starts here and compare the errors: the same exception, in the same words once the engine's name,
dtype and array type are set aside. tests/test_api.py covers ``nn.sgd`` and the networks' inputs.
"""

import gc
import re
import sys
import weakref
from types import FunctionType, SimpleNamespace

import numpy as np
import pytest

import nnlib as nn
from article import article_data, article_network
from conftest import engine
from nnlib.engines import ENGINES
from test_api import (BAD_SGD_CALLS, EPOCHS, ETA, expected_message, foreign_engine, not_mine,
                      released)

RELEASED = r"this matrix was released \(eng\.release\); create a new one"
INFERENCE_RELEASED = "^this InferenceNetwork was released; build a new one$"
TRAINING_RELEASED = "^this TrainingNetwork was released; build a new one$"


@pytest.fixture(params=list(ENGINES))
def eng(request):
    return engine(request.param)


def started(name):
    """The engine ``name``, or None where it cannot start here."""
    try:
        return engine(name)
    except pytest.skip.Exception:
        return None


def raised(call):
    """The exception ``call()`` raises (the test fails if it raises none)."""
    with pytest.raises(Exception) as error:
        call()
    return error.value


def matrices(network):
    """Every matrix of a network's layers, in a fixed order."""
    return [getattr(layer, name) for layer in network.layers
            for name in ("weights", "bias", "input", "z", "output", "v") if hasattr(layer, name)]


def state(eng, network):
    """Host copies of the network's matrices (None for a released one)."""
    return [None if eng.is_released(m) else eng.to_numpy(m) for m in matrices(network)]


def assert_same_state(before, after):
    """Every matrix still usable after the misuse holds what it held before."""
    for b, a in zip(before, after, strict=True):
        if a is not None:
            np.testing.assert_array_equal(b, a)


# ---- every operation refuses a released operand ---------------------------------------------

ACTIVATIONS = ["tanh", "sigmoid", "tanh_prime_from_output", "sigmoid_prime_from_output"]

# name: (operand shapes, the call, what the error message starts with for each operand)
OPERATIONS = {
    "to_numpy": ([(2, 3)], lambda eng, x: eng.to_numpy(x), ["the matrix to read: "]),
    "transfer into": ([(2, 3)], lambda eng, x: eng.transfer(np.ones((2, 3)), x),
                      ["destination: "]),
    "transfer from": ([(2, 3), (2, 3)], lambda eng, x, y: eng.transfer(x, y),
                      ["source: ", "destination: "]),
    "matrix from": ([(2, 3)], lambda eng, x: eng.matrix(x), ["source: "]),
    "view": ([(6,)], lambda eng, x: eng.view(x, (2, 3)), ["buffer: "]),
    "gemm": ([(2, 3), (3, 4), (2, 4)], lambda eng, a, b, c: eng.gemm(1.0, a, b, 0.5, c), None),
    "gemm transposed": ([(3, 2), (4, 3), (2, 4)],
                        lambda eng, a, b, c: eng.gemm(1.0, a, b, 0.0, c, True, True), None),
    # beta = 0: the OpenCL engine zeroes y first, which must not happen when a or x is released
    "gemv": ([(2, 3), (3,), (2,)], lambda eng, a, x, y: eng.gemv(1.0, a, x, 0.0, y), None),
    "gemv transposed": ([(3, 2), (3,), (2,)],
                        lambda eng, a, x, y: eng.gemv(1.0, a, x, 1.0, y, trans_a=True), None),
    "ger": ([(2,), (3,), (2, 3)], lambda eng, x, y, a: eng.ger(1.0, x, y, a), None),
    "axpy": ([(2, 3), (2, 3)], lambda eng, x, y: eng.axpy(0.5, x, y), None),
    "scal": ([(2, 3)], lambda eng, x: eng.scal(2.0, x), None),
    "copy": ([(2, 3), (2, 3)], lambda eng, x, y: eng.copy(x, y), None),
    "fill": ([(2, 3)], lambda eng, x: eng.fill(x, 1.0), None),
    "nrm2": ([(2, 3)], lambda eng, x: eng.nrm2(x), None),
    "all_finite": ([(2, 3)], lambda eng, x: eng.all_finite(x), None),
    "mul": ([(2, 3)] * 3, lambda eng, x, y, out: eng.mul(x, y, out), None),
    **{name: ([(2, 3), (2, 3)], lambda eng, x, out, name=name: getattr(eng, name)(x, out), None)
       for name in ACTIVATIONS},
}


def released_operand(eng, op, position):
    """Run ``op`` with its operand ``position`` released; return the error, after checking that
    the other operands kept their entries."""
    shapes, call, prefixes = OPERATIONS[op]
    rng = np.random.default_rng(position)
    operands = [eng.matrix(rng.uniform(0.1, 0.9, shape)) for shape in shapes]
    before = [eng.to_numpy(x) for x in operands]
    eng.release(operands[position])
    error = raised(lambda: call(eng, *operands))
    eng.synchronize()
    for i, (x, host) in enumerate(zip(operands, before)):
        if i != position:
            np.testing.assert_array_equal(eng.to_numpy(x), host, err_msg=f"operand {i}")
    prefix = prefixes[position] if prefixes else ""
    assert isinstance(error, ValueError), f"{type(error).__name__}: {error}"
    assert re.fullmatch(prefix + RELEASED, str(error)), str(error)
    return error


def operation_cases(names):
    for name in names:
        for op, (shapes, _, _) in OPERATIONS.items():
            for position in range(len(shapes)):
                yield pytest.param(name, op, position, id=f"{name}-{op}-{position}")


@pytest.mark.parametrize("name, op, position", list(operation_cases(ENGINES)))
def test_every_operation_refuses_a_released_operand(name, op, position):
    released_operand(engine(name), op, position)


def test_releasing_a_view_releases_its_buffer_and_every_view_of_it(eng):
    flat = eng.matrix(np.arange(12.0))
    first, second = eng.view(flat, (2, 3)), eng.view(flat, (3, 4))
    eng.release(first)
    for x in (flat, first, second):
        assert eng.is_released(x)
        with pytest.raises(ValueError, match=RELEASED):
            eng.to_numpy(x)
        with pytest.raises(ValueError, match=RELEASED):
            eng.fill(x, 0.0)
    with pytest.raises(ValueError, match=RELEASED):
        eng.view(flat, (2, 2))
    eng.release(second)   # the buffer is gone already: harmless
    eng.release(flat)


def test_a_released_buffer_takes_its_views_with_it(eng):
    flat = eng.matrix(np.arange(12.0))
    view = eng.view(flat, (3, 4))
    other = eng.matrix(np.ones((4, 2)))
    eng.release(flat)
    with pytest.raises(ValueError, match=RELEASED):
        eng.gemm(1.0, view, other, 0.0, eng.zeros((3, 2)))
    with pytest.raises(ValueError, match=RELEASED):
        eng.to_numpy(view)
    np.testing.assert_array_equal(eng.to_numpy(other), np.ones((4, 2)))


def registry(eng):
    """The record of released buffers that the engine's module keeps."""
    return sys.modules[type(eng).__module__]._released


def test_release_keeps_nothing_alive_and_forgets_collected_matrices(eng):
    """The record holds weak references only: a released matrix is freed when Python collects it,
    its entry goes with it, and new matrices (perhaps at the same address) work."""
    gc.collect()
    size = len(registry(eng))
    x = eng.zeros(64 * 64)
    view = eng.view(x, (64, 64))   # keeps the buffer alive on OpenCL, whose x forgets it
    alive = weakref.ref(x), weakref.ref(view)
    eng.release(x)
    assert len(registry(eng)) == size + 1
    del x, view
    gc.collect()
    assert [ref() for ref in alive] == [None, None]
    assert len(registry(eng)) == size
    for _ in range(100):
        fresh = eng.zeros((64, 64))
        assert not eng.is_released(fresh)
        assert eng.nrm2(eng.fill(fresh, 1.0)) == 64.0


def test_release_refuses_what_is_not_a_matrix_of_the_engine(eng):
    foreign = foreign_engine(eng).zeros((2, 2))
    for thing in ([[1.0, 2.0]], foreign, None):
        with pytest.raises(TypeError, match=not_mine(eng, "the matrix to release")):
            eng.release(thing)
    np.testing.assert_array_equal(foreign_engine(eng).to_numpy(foreign), np.zeros((2, 2)))


def test_a_numpy_matrix_released_by_one_native_engine_is_refused_by_every_one():
    x = nn.native_float().matrix([[1.0, 2.0]])
    nn.native_float().release(x)
    with pytest.raises(ValueError, match=RELEASED):
        nn.native_float().to_numpy(x)


# ---- misuse through the networks, nn.train and nn.predict -----------------------------------

X_HOST = np.random.default_rng(7).uniform(0.0, 1.0, (2, 6))
Y_HOST = np.random.default_rng(8).uniform(0.2, 0.8, (1, 6))
LABELS = np.array([0, 0])

SCENARIOS = {}   # name: (misuse(eng) -> the error, the exception, a pattern for its message)


def scenario(name, kind, pattern, check_state=True):
    """Register ``act(s)``, a misuse of the article's network and its training network (``s``
    holds both, the engine and good data), under ``name``."""
    def register(act):
        def misuse(eng):
            x, y = article_data(eng)
            with article_network(eng) as inference:
                with nn.training_network(inference, x) as training:
                    s = SimpleNamespace(eng=eng, x=x, y=y, inference=inference,
                                        training=training)
                    before = state(eng, training)
                    error = raised(lambda: act(s))
                    if check_state:
                        assert_same_state(before, state(eng, training))
            return error
        SCENARIOS[name] = (misuse, kind, pattern)
        return act
    return register


def released_batch(s):
    """A 2 x 2 input batch of the engine, released."""
    return released(s.eng, s.eng.matrix(X_HOST[:, :2]))


# released matrices, through the networks

scenario("inference on a released input", ValueError, "^input: " + RELEASED)(
    lambda s: s.inference(released_batch(s)))
scenario("inference into a released output", ValueError, "^output: " + RELEASED)(
    lambda s: s.inference(s.x, out=released(s.eng, s.eng.zeros((1, 2)))))
scenario("training network on a released input", ValueError, "^input: " + RELEASED)(
    lambda s: nn.training_network(s.inference, released_batch(s)))
scenario("predict on a released matrix", ValueError, "^input: " + RELEASED)(
    lambda s: nn.predict(s.inference, released_batch(s)))
scenario("accuracy on a released matrix", ValueError, "^input: " + RELEASED)(
    lambda s: nn.accuracy(s.inference, released_batch(s), LABELS))


@scenario("sgd after its training input was released", ValueError, "^" + RELEASED)
def _(s):
    s.eng.release(s.x)
    nn.sgd(s.training, s.y, nn.quadratic_cost, 1, 0.05)


@scenario("inference with released weights", ValueError, "^" + RELEASED)
def _(s):
    s.eng.release(s.inference.layers[0].weights)
    s.inference(s.x)


@scenario("sgd on a training network whose inference network was released", RuntimeError,
          INFERENCE_RELEASED)
def _(s):
    s.inference.release()
    nn.sgd(s.training, s.y, nn.quadratic_cost, 1, 0.05)


# released networks

def after_releasing(network, act):
    def misuse(s):
        getattr(s, network).release()
        act(s)
    return misuse


for _name, _act in {
    "calling a released inference network": lambda s: s.inference(s.x),
    "training network of a released inference network":
        lambda s: nn.training_network(s.inference, s.x),
    "train a released inference network":
        lambda s: nn.train(s.inference, X_HOST, Y_HOST, nn.quadratic_cost, 1, 0.5, batch_size=2),
    "predict with a released network (engine matrix)": lambda s: nn.predict(s.inference, s.x),
    "predict with a released network (host array)": lambda s: nn.predict(s.inference, X_HOST),
    "accuracy of a released network": lambda s: nn.accuracy(s.inference, X_HOST[:, :2], LABELS),
    "initialize a released network": lambda s: nn.glorot(s.inference, seed=1),
}.items():
    scenario(_name, RuntimeError, INFERENCE_RELEASED, check_state=False)(
        after_releasing("inference", _act))

for _name, _act in {
    "sgd on a released training network":
        lambda s: nn.sgd(s.training, s.y, nn.quadratic_cost, 1, 0.05),
    "forward pass of a released training network": lambda s: s.training.forward(),
    "backward pass of a released training network": lambda s: s.training.backward(0.05),
}.items():
    scenario(_name, RuntimeError, TRAINING_RELEASED, check_state=False)(
        after_releasing("training", _act))


def another_device_matrix(eng, data):
    """``data`` on a device that is not ``eng``'s: the OpenCL engine's, or, for the OpenCL engine,
    a second OpenCL engine's (another context). Skips where OpenCL cannot start."""
    if eng.name != "opencl_float":
        return engine("opencl_float").matrix(data)
    if "opencl" not in _second:
        _second["opencl"] = nn.opencl_float()
    return _second["opencl"].matrix(data)


_second = {}


def train_call(**changes):
    """An ``nn.train`` call on good data with ``changes`` made to its arguments; a change given as
    a function of the engine is called with it."""
    def act(s):
        arguments = dict(x=X_HOST, y=Y_HOST, cost=nn.quadratic_cost, epochs=2, eta=0.5,
                         batch_size=2)
        for key, value in changes.items():
            arguments[key] = value(s.eng) if isinstance(value, FunctionType) else value
        x, y, cost, epochs, eta = (arguments.pop(key) for key in ("x", "y", "cost", "epochs",
                                                                   "eta"))
        return nn.train(s.inference, x, y, cost, epochs, eta, **arguments)
    return act


def with_entry(host, index, value):
    copy = np.array(host)
    copy[index] = value
    return copy


BATCH = r"batch_size must be a whole number from 1 to the number of examples \(6\), got "
NUMBERS = r"input x must be numbers: a host array \(NumPy\) or a matrix of the {name} engine, got "
BAD_TRAIN_CALLS = {
    "zero epochs": (dict(epochs=0), ValueError, EPOCHS),
    "fractional epochs": (dict(epochs=1.5), ValueError, EPOCHS),
    "negative eta": (dict(eta=-0.5), ValueError, ETA),
    "nan eta": (dict(eta=float("nan")), ValueError, ETA),
    "empty schedule": (dict(epochs=[], eta=None), ValueError, "the schedule is empty"),
    "unknown cost": (dict(cost="mse"), TypeError, "unknown cost 'mse'"),
    "zero batch size": (dict(batch_size=0), ValueError, BATCH + "0"),
    "batch larger than the data": (dict(batch_size=7), ValueError, BATCH + "7"),
    "fractional batch size": (dict(batch_size=2.5), ValueError, BATCH + "2.5"),
    "batch size as a bool": (dict(batch_size=True), ValueError, BATCH + "True"),
    "input with too many rows": (dict(x=np.ones((3, 6))), ValueError,
                                 "input x has 3 rows, but the network expects 2"),
    "transposed input": (dict(x=X_HOST.T), ValueError,
                         r"input x has 6 rows, .*it looks transposed \(use \.T\)"),
    "targets with too many rows": (dict(y=np.ones((2, 6))), ValueError,
                                   "targets y has 2 rows, but the network expects 1"),
    "fewer targets than inputs": (dict(y=Y_HOST[:, :5]), ValueError,
                                  r"input x has 6 examples \(columns\) but targets y have 5"),
    "no examples": (dict(x=np.ones((2, 0)), y=np.ones((1, 0))), ValueError,
                    "there are no examples"),
    "1-D input": (dict(x=np.ones(6)), ValueError,
                  "input x must be a matrix with one example per column"),
    "nan in the input": (dict(x=with_entry(X_HOST, (1, 2), np.nan)), ValueError,
                         r"input x contains NaN or infinity \(after conversion to {dtype}\)"),
    "inf in the targets": (dict(y=with_entry(Y_HOST, (0, 5), np.inf)), ValueError,
                           "targets y contains NaN or infinity"),
    "strings as input": (dict(x=np.full((2, 6), "0.5")), TypeError, NUMBERS + "ndarray"),
    "input on another device": (dict(x=lambda eng: another_device_matrix(eng, X_HOST)),
                                TypeError, NUMBERS + "Array"),
    "released input": (dict(x=lambda eng: released(eng, eng.matrix(X_HOST))), ValueError,
                       RELEASED),
    "released targets": (dict(y=lambda eng: released(eng, eng.matrix(Y_HOST))), ValueError,
                         RELEASED),
    "on_epoch that is not a function": (dict(on_epoch=3), TypeError,
                                        r"on_epoch must be a function of \(epoch, cost\)"),
}
for _name, (_changes, _kind, _pattern) in BAD_TRAIN_CALLS.items():
    scenario(f"train: {_name}", _kind, _pattern)(train_call(**_changes))

scenario("train a training network", TypeError,
         r"train needs an inference network \(nn.inference_network\), got TrainingNetwork")(
    lambda s: nn.train(s.training, X_HOST, Y_HOST, nn.quadratic_cost, 1, 0.5, batch_size=2))
scenario("predict: input with too many rows", ValueError,
         "input has 3 rows, but the network expects 2")(
    lambda s: nn.predict(s.inference, np.ones((3, 2))))
scenario("predict: nan in the input", ValueError, "input contains NaN or infinity")(
    lambda s: nn.predict(s.inference, with_entry(X_HOST, (0, 0), np.nan)))
scenario("predict: strings", TypeError, NUMBERS + "ndarray")(
    lambda s: nn.predict(s.inference, np.full((2, 2), "a")))
scenario("accuracy: one label too many", ValueError, "there are 2 examples but 3 labels")(
    lambda s: nn.accuracy(s.inference, X_HOST[:, :2], [0, 1, 0]))


@pytest.mark.parametrize("case", list(SCENARIOS))
def test_misuse_is_refused_before_anything_changes(eng, case):
    misuse, kind, pattern = SCENARIOS[case]
    error = misuse(eng)
    assert type(error) is kind, f"{type(error).__name__}: {error}"
    assert re.search(expected_message(eng, pattern), str(error)), str(error)


def test_initializing_a_network_with_a_released_matrix_changes_nothing(eng):
    """A released matrix in the last layer must stop glorot before the first layer changes."""
    with article_network(eng) as inference:
        first = eng.to_numpy(inference.layers[0].weights)
        eng.release(inference.layers[-1].weights)
        with pytest.raises(ValueError, match=RELEASED):
            nn.glorot(inference, seed=3)
        np.testing.assert_array_equal(first, eng.to_numpy(inference.layers[0].weights))


# ---- every engine raises the same error, in the same words ----------------------------------

def normalize(message):
    """The message with the engine's name, dtype and array type set aside."""
    for name in ENGINES:
        message = message.replace(name, "<engine>")
    message = re.sub(r"numpy\.ndarray|pyopencl\.array\.Array|cupy\.ndarray", "<array>", message)
    return re.sub(r"float32|float64", "<dtype>", message)


def sgd_misuse(case):
    arguments = BAD_SGD_CALLS[case][0]

    def misuse(eng):
        x, y = article_data(eng)
        with article_network(eng) as inference, nn.training_network(inference, x) as training:
            return raised(lambda: nn.sgd(training, *arguments(eng, y)))
    return misuse


def input_misuse(x_host):
    def misuse(eng):
        with article_network(eng) as inference:
            x = eng.zeros(np.shape(x_host)) if np.size(x_host) == 0 else eng.matrix(x_host)
            return raised(lambda: inference(x))
    return misuse


def agreement_cases():
    cases = {f"sgd: {case}": sgd_misuse(case) for case in BAD_SGD_CALLS}
    cases.update({f"inference on {what}": input_misuse(x) for what, x in {
        "too many rows": [[0.3], [0.9], [0.1]], "an empty batch": np.zeros((2, 0)),
        "nan": [[0.3, np.nan], [0.9, 0.9]], "a vector": [0.3, 0.9]}.items()})
    cases.update({case: misuse for case, (misuse, _, _) in SCENARIOS.items()})
    for op, (shapes, _, _) in OPERATIONS.items():
        for position in range(len(shapes)):
            cases[f"{op}, operand {position} released"] = (
                lambda eng, op=op, position=position: released_operand(eng, op, position))
    return [pytest.param(case, misuse, id=case) for case, misuse in cases.items()]


@pytest.mark.parametrize("case, misuse", agreement_cases())
def test_every_engine_raises_the_same_error_in_the_same_words(case, misuse):
    outcomes = {}
    for name in ENGINES:
        eng = started(name)
        if eng is not None:
            error = misuse(eng)
            outcomes[name] = (type(error).__name__, normalize(str(error)))
    assert len(outcomes) >= 2
    assert len(set(outcomes.values())) == 1, outcomes
