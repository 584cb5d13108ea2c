"""The public API the chapters arrive at, and what it does with bad input, on every engine.

Each misuse test runs once per engine (an engine that cannot start here skips, saying why): the
same misuse must raise the same exception, naming the problem in the same words, before anything
changes. tests/test_misuse.py adds released matrices and networks, nn.train, and a test that the
engines' messages agree word for word.
"""

import numpy as np
import pytest

import nnlib as nn
from article import article_data, article_network
from conftest import engine
from nnlib.engines import ENGINES


@pytest.fixture(params=list(ENGINES))
def eng(request):
    """Each engine, started once per session; one that cannot start here skips, saying why."""
    return engine(request.param)


def snapshot(*networks):
    """Host copies of every parameter and buffer of the given networks."""
    copies = []
    for net in networks:
        eng = net.eng
        for layer in net.layers:
            for name in ("weights", "bias", "input", "z", "output", "v"):
                if hasattr(layer, name):
                    copies.append(eng.to_numpy(getattr(layer, name)))
    return copies


def assert_unchanged(before, after):
    assert len(before) == len(after)
    for b, a in zip(before, after):
        np.testing.assert_array_equal(b, a)


def other_dtype(eng):
    return np.dtype(np.float64 if eng.dtype == np.float32 else np.float32)


def other_dtype_matrix(eng, data):
    """``data`` as an array of the engine's own kind (NumPy, pyopencl, CuPy) in the other dtype."""
    host = np.asarray(data, other_dtype(eng))
    if eng.name == "opencl_float":
        import pyopencl.array as cla
        return cla.to_device(eng.queue, host)
    if eng.name == "cuda_float":
        import cupy
        return cupy.asarray(host)
    return host


def foreign_engine(eng):
    """Another engine, one that starts everywhere: native_double, or native_float for it."""
    return engine("native_float" if eng.name == "native_double" else "native_double")


def released(eng, matrix):
    """``matrix``, released."""
    eng.release(matrix)
    return matrix


def not_mine(eng, what):
    """The start of the TypeError for an object that is not a matrix of ``eng``."""
    return f"{what} must be a {eng.dtype} matrix of the {eng.name} engine, got "


def test_public_names():
    for name in ["native_float", "native_double", "opencl_float", "cuda_float", "available_engines",
                 "EngineUnavailable", "inference_network", "training_network", "fully_connected",
                 "sigmoid", "tanh", "sgd", "quadratic_cost", "TrainingDiverged", "check_gradients",
                 "glorot", "train", "one_hot", "predict", "accuracy"]:
        assert hasattr(nn, name), name
        thing = getattr(nn, name)
        assert thing.__doc__ or not callable(thing), f"{name} has no docstring"


def test_design_example_runs_end_to_end():
    eng = nn.native_float()
    x, _ = article_data(eng)
    y = eng.matrix([[0.8, 0.8]])   # zero weights in the last layer already give 0.5
    inference = nn.inference_network(eng, 2, [nn.fully_connected(4, nn.tanh),
                                              nn.fully_connected(1, nn.sigmoid)])
    layer = inference.layers[0]
    assert layer.weights.shape == (4, 2) and layer.bias.shape == (4,)
    eng.transfer(np.full((4, 2), 0.1), layer.weights)
    np.testing.assert_array_equal(eng.to_numpy(layer.weights), np.full((4, 2), 0.1, np.float32))
    assert inference(x).shape == (1, 2)
    training = nn.training_network(inference, x)
    first = nn.sgd(training, y, nn.quadratic_cost, 10, 0.05)
    assert isinstance(first, float)
    history = nn.sgd(training, y, nn.quadratic_cost, [(10, 0.05), (5, 0.01)])
    assert isinstance(history, list) and len(history) == 2
    assert all(isinstance(cost, float) and cost > 0 for cost in history)


def test_schedule_equals_separate_calls():
    eng = engine("native_double")
    x, y = article_data(eng)
    results = []
    for as_schedule in (True, False):
        with article_network(eng) as inference, nn.training_network(inference, x) as training:
            if as_schedule:
                results.append(nn.sgd(training, y, nn.quadratic_cost, [(3, 0.05), (2, 0.01)]))
            else:
                results.append([nn.sgd(training, y, nn.quadratic_cost, 3, 0.05),
                                nn.sgd(training, y, nn.quadratic_cost, 2, 0.01)])
    assert results[0] == results[1]


def test_training_updates_the_inference_network_it_was_built_from():
    eng = nn.native_float()
    x, y = article_data(eng)
    with article_network(eng) as inference, nn.training_network(inference, x) as training:
        before = eng.to_numpy(inference(x))
        nn.sgd(training, y, nn.quadratic_cost, 200, 0.05)
        after = eng.to_numpy(inference(x))
    assert abs(after - 0.5).max() < abs(before - 0.5).max()


def test_with_block_releases_and_released_networks_refuse_work(eng):
    x, y = article_data(eng)
    with article_network(eng) as inference:
        with nn.training_network(inference, x) as training:
            pass
        with pytest.raises(RuntimeError, match="released"):
            nn.sgd(training, y, nn.quadratic_cost, 1, 0.05)
        with pytest.raises(RuntimeError, match="released"):
            training.forward()
    with pytest.raises(RuntimeError, match="released"):
        inference(x)
    with pytest.raises(RuntimeError, match="released"):
        nn.training_network(inference, x)


EPOCHS = "epochs must be a positive whole number, got "
ETA = "the learning rate eta must be a positive finite number, got "
NOT_FINITE = "the targets y contain NaN or infinity; clean the data first"

# name: (the arguments after the network, given the engine and good targets y;
#        the exception; a regular expression its message must match)
BAD_SGD_CALLS = {
    "zero epochs": (lambda eng, y: (y, nn.quadratic_cost, 0, 0.05), ValueError, EPOCHS),
    "negative epochs": (lambda eng, y: (y, nn.quadratic_cost, -3, 0.05), ValueError, EPOCHS),
    "fractional epochs": (lambda eng, y: (y, nn.quadratic_cost, 2.5, 0.05), ValueError, EPOCHS),
    "epochs as a bool": (lambda eng, y: (y, nn.quadratic_cost, True, 0.05), ValueError, EPOCHS),
    "epochs as a string": (lambda eng, y: (y, nn.quadratic_cost, "10", 0.05), ValueError, EPOCHS),
    "negative eta": (lambda eng, y: (y, nn.quadratic_cost, 10, -0.05), ValueError, ETA),
    "zero eta": (lambda eng, y: (y, nn.quadratic_cost, 10, 0.0), ValueError, ETA),
    "nan eta": (lambda eng, y: (y, nn.quadratic_cost, 10, float("nan")), ValueError, ETA),
    "infinite eta": (lambda eng, y: (y, nn.quadratic_cost, 10, float("inf")), ValueError, ETA),
    "eta as a string": (lambda eng, y: (y, nn.quadratic_cost, 10, "0.05"), ValueError, ETA),
    "empty schedule": (lambda eng, y: (y, nn.quadratic_cost, []), ValueError,
                       r"the schedule is empty; give at least one \(epochs, eta\) pair"),
    "malformed schedule": (lambda eng, y: (y, nn.quadratic_cost, [(10, 0.05), (5,)]), ValueError,
                           r"each schedule entry must be an \(epochs, eta\) pair, got \(5,\)"),
    "bad entry late in schedule":
        (lambda eng, y: (y, nn.quadratic_cost, [(10, 0.05), (0, 0.05)]), ValueError, EPOCHS),
    "bad eta late in schedule":
        (lambda eng, y: (y, nn.quadratic_cost, [(10, 0.05), (5, -1.0)]), ValueError, ETA),
    "not a schedule": (lambda eng, y: (y, nn.quadratic_cost, 7), TypeError,
                       "give either epochs and eta, or a schedule"),
    "unknown cost": (lambda eng, y: (y, "cross-entropy", 10, 0.05), TypeError,
                     "unknown cost 'cross-entropy': use nn.quadratic_cost"),
    "targets of the wrong shape":
        (lambda eng, y: (eng.matrix([[0.5, 0.5, 0.5]]), nn.quadratic_cost, 1, 0.05), ValueError,
         r"targets y has shape \(1, 3\), expected \(1, 2\)"),
    "targets of the wrong dtype":
        (lambda eng, y: (other_dtype_matrix(eng, [[0.5, 0.5]]), nn.quadratic_cost, 1, 0.05),
         TypeError, "targets y must be a {dtype} matrix of the {name} engine, got .* of {other}"),
    "targets as a list": (lambda eng, y: ([[0.5, 0.5]], nn.quadratic_cost, 1, 0.05), TypeError,
                          "targets y must be a {dtype} matrix of the {name} engine, got list;"),
    "targets of another engine":
        (lambda eng, y: (foreign_engine(eng).matrix([[0.5, 0.5]]), nn.quadratic_cost, 1, 0.05),
         TypeError, "targets y must be a {dtype} matrix of the {name} engine, got numpy"),
    "nan in targets":
        (lambda eng, y: (eng.matrix([[0.5, np.nan]]), nn.quadratic_cost, 1, 0.05), ValueError,
         NOT_FINITE),
    "inf in targets":
        (lambda eng, y: (eng.matrix([[np.inf, 0.5]]), nn.quadratic_cost, 1, 0.05), ValueError,
         NOT_FINITE),
    "released targets":
        (lambda eng, y: (released(eng, eng.matrix([[0.5, 0.5]])), nn.quadratic_cost, 1, 0.05),
         ValueError, r"targets y: this matrix was released \(eng.release\); create a new one"),
}


def expected_message(eng, pattern):
    return pattern.format(dtype=eng.dtype, name=eng.name, other=other_dtype(eng))


@pytest.mark.parametrize("case", list(BAD_SGD_CALLS))
def test_bad_sgd_arguments_raise_and_change_nothing(eng, case):
    x, y = article_data(eng)
    arguments, kind, message = BAD_SGD_CALLS[case]
    with article_network(eng) as inference, nn.training_network(inference, x) as training:
        before = snapshot(training)
        with pytest.raises(kind, match=expected_message(eng, message)) as error:
            nn.sgd(training, *arguments(eng, y))
        assert len(str(error.value)) > 20
        assert_unchanged(before, snapshot(training))


def test_sgd_needs_a_training_network(eng):
    x, y = article_data(eng)
    with article_network(eng) as inference:
        before = snapshot(inference)
        with pytest.raises(TypeError, match=r"sgd needs a training network \(nn.training_network"
                                            r"\), got InferenceNetwork"):
            nn.sgd(inference, y, nn.quadratic_cost, 1, 0.05)
        assert_unchanged(before, snapshot(inference))


def test_nan_in_the_training_input_is_refused_before_training(eng):
    x, y = article_data(eng)
    with article_network(eng) as inference, nn.training_network(inference, x) as training:
        eng.transfer([[np.nan, 0.3], [0.9, 0.9]], x)   # overwritten after the network was built
        before = snapshot(training)
        with pytest.raises(ValueError, match="NaN"):
            nn.sgd(training, y, nn.quadratic_cost, 1, 0.05)
        assert_unchanged(before, snapshot(training))


@pytest.mark.parametrize("x_host, message", [
    ([[0.3, 0.9, 0.1]], "input has 1 rows, but the network expects 2"),
    ([[0.3], [0.9], [0.1]], "input has 3 rows, but the network expects 2"),
    (np.zeros((2, 0)), r"input is an empty batch \(no columns\)"),
    ([[0.3, np.nan], [0.9, 0.9]], "input contains NaN or infinity"),
    ([[0.3, 0.3], [-np.inf, 0.9]], "input contains NaN or infinity"),
    ([0.3, 0.9], r"input must be a matrix with one example per column, got shape \(2,\)"),
])
def test_bad_inputs_for_inference_and_training(eng, x_host, message):
    x_host = np.asarray(x_host)
    x = eng.zeros(x_host.shape) if x_host.size == 0 else eng.matrix(x_host)
    with article_network(eng) as inference:
        before = snapshot(inference)
        with pytest.raises(ValueError, match=message):
            inference(x)
        with pytest.raises(ValueError, match=message):
            nn.training_network(inference, x)
        assert_unchanged(before, snapshot(inference))


def test_inputs_of_another_dtype_or_engine_are_refused(eng):
    data = [[0.3, 0.3], [0.9, 0.9]]
    with article_network(eng) as inference:
        before = snapshot(inference)
        for x in (np.array(data, other_dtype(eng)),   # a host array in the other dtype
                  other_dtype_matrix(eng, data),      # this engine's kind of array, other dtype
                  foreign_engine(eng).matrix(data),
                  data,                               # a Python list
                  np.zeros((2, 2, 1), eng.dtype)):    # three dimensions
            with pytest.raises(TypeError, match=not_mine(eng, "input")):
                inference(x)
            with pytest.raises(TypeError, match=not_mine(eng, "input")):
                nn.training_network(inference, x)
        assert_unchanged(before, snapshot(inference))


def test_output_of_another_shape_or_engine_is_refused(eng):
    x, _ = article_data(eng)
    with article_network(eng) as inference:
        before = snapshot(inference)
        with pytest.raises(ValueError, match=r"output has shape \(2, 2\), expected \(1, 2\)"):
            inference(x, out=eng.zeros((2, 2)))
        with pytest.raises(TypeError, match=not_mine(eng, "output")):
            inference(x, out=foreign_engine(eng).zeros((1, 2)))
        assert_unchanged(before, snapshot(inference))


def test_transfer_into_a_matrix_of_another_shape_is_refused(eng):
    with article_network(eng) as inference:
        weights = inference.layers[0].weights
        before = eng.to_numpy(weights)
        with pytest.raises(ValueError, match="order='F'"):
            eng.transfer([0.3, 0.1, 0.9, 0.0, 0.6, 2.0, 3.7, 1.0], weights)
        with pytest.raises(TypeError, match="cannot transfer <U3 data; give numbers"):
            eng.transfer(np.full((4, 2), "0.1"), weights)
        np.testing.assert_array_equal(before, eng.to_numpy(weights))


@pytest.mark.parametrize("make", [
    lambda eng: nn.fully_connected(4, "relu"),
    lambda eng: nn.fully_connected(4, None),
    lambda eng: nn.fully_connected(0, nn.tanh),
    lambda eng: nn.fully_connected(-2, nn.tanh),
    lambda eng: nn.fully_connected(2.5, nn.tanh),
    lambda eng: nn.inference_network(eng, 0, [nn.fully_connected(1, nn.tanh)]),
    lambda eng: nn.inference_network(eng, 2.5, [nn.fully_connected(1, nn.tanh)]),
    lambda eng: nn.inference_network(eng, True, [nn.fully_connected(1, nn.tanh)]),
    lambda eng: nn.inference_network(eng, 2, []),
    lambda eng: nn.inference_network(eng, 2, [4]),
    lambda eng: nn.inference_network(eng, 2, [nn.fully_connected(1, nn.tanh), "sigmoid"]),
])
def test_bad_network_descriptions_are_refused(eng, make):
    with pytest.raises((TypeError, ValueError)):
        make(eng)


def test_unknown_activation_names_the_known_ones():
    with pytest.raises(TypeError, match="nn.sigmoid or nn.tanh"):
        nn.fully_connected(4, "relu")


def test_divergence_stops_training_with_a_clear_error(float_engine):
    """float32 overflows at eta = 1e39; in float64 the sigmoid saturates first and nothing
    diverges."""
    eng = float_engine
    x, y = article_data(eng)
    with article_network(eng) as inference, nn.training_network(inference, x) as training:
        with pytest.raises(nn.TrainingDiverged, match="smaller learning rate"):
            nn.sgd(training, y, nn.quadratic_cost, [(5, 1e39), (5, 0.05)])


def test_progress_bar_only_when_asked_or_in_a_terminal(capsys):
    eng = nn.native_float()
    x, y = article_data(eng)
    with article_network(eng) as inference, nn.training_network(inference, x) as training:
        nn.sgd(training, y, nn.quadratic_cost, 2000, 0.05)          # not a terminal: no bar
        assert capsys.readouterr().err == ""
        nn.sgd(training, y, nn.quadratic_cost, 200, 0.05, progress=False)
        assert capsys.readouterr().err == ""
        nn.sgd(training, y, nn.quadratic_cost, 200, 0.05, progress=True)
        bar = capsys.readouterr().err
        assert "/200" in bar and "epoch" in bar   # tqdm redraws at most every 0.1 s


@pytest.mark.parametrize("name, other_name",
                         [(a, b) for a in ENGINES for b in ENGINES if a != b])
def test_matrices_of_another_engine_are_refused_everywhere(name, other_name):
    eng, other = engine(name), engine(other_name)
    x_other, y_other = article_data(other)
    x, y = article_data(eng)
    with article_network(eng) as inference, nn.training_network(inference, x) as training:
        before = snapshot(training)
        with pytest.raises(TypeError, match=not_mine(eng, "input")):
            inference(x_other)
        with pytest.raises(TypeError, match=not_mine(eng, "input")):
            nn.training_network(inference, x_other)
        with pytest.raises(TypeError, match=not_mine(eng, "targets y")):
            nn.sgd(training, y_other, nn.quadratic_cost, 1, 0.05)
        with pytest.raises(TypeError, match=not_mine(eng, "destination")):
            eng.transfer(np.zeros((4, 2)), other.zeros((4, 2)))
        with pytest.raises(TypeError, match=not_mine(eng, "the matrix to read")):
            eng.to_numpy(x_other)
        assert_unchanged(before, snapshot(training))
    with article_network(other) as foreign:
        with pytest.raises(TypeError, match=not_mine(other, "input")):
            foreign(x)
