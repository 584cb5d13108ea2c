"""The public API the chapters arrive at, and what it does with bad input."""

import numpy as np
import pytest

import nnlib as nn
from article import article_data, article_network
from conftest import engine


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


def test_with_block_releases_and_released_networks_refuse_work():
    eng = nn.native_float()
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


BAD_SGD_CALLS = {
    "zero epochs": lambda y: (y, nn.quadratic_cost, 0, 0.05),
    "negative epochs": lambda y: (y, nn.quadratic_cost, -3, 0.05),
    "fractional epochs": lambda y: (y, nn.quadratic_cost, 2.5, 0.05),
    "negative eta": lambda y: (y, nn.quadratic_cost, 10, -0.05),
    "nan eta": lambda y: (y, nn.quadratic_cost, 10, float("nan")),
    "empty schedule": lambda y: (y, nn.quadratic_cost, []),
    "malformed schedule": lambda y: (y, nn.quadratic_cost, [(10, 0.05), (5,)]),
    "bad entry late in schedule": lambda y: (y, nn.quadratic_cost, [(10, 0.05), (0, 0.05)]),
    "not a schedule": lambda y: (y, nn.quadratic_cost, 7),
    "unknown cost": lambda y: (y, "cross-entropy", 10, 0.05),
    "targets of the wrong shape":
        lambda y: (nn.native_float().matrix([[0.5, 0.5, 0.5]]), nn.quadratic_cost, 1, 0.05),
    "targets of the wrong dtype": lambda y: (np.array([[0.5, 0.5]]), nn.quadratic_cost, 1, 0.05),
    "targets as a list": lambda y: ([[0.5, 0.5]], nn.quadratic_cost, 1, 0.05),
    "nan in targets":
        lambda y: (nn.native_float().matrix([[0.5, np.nan]]), nn.quadratic_cost, 1, 0.05),
    "inf in targets":
        lambda y: (nn.native_float().matrix([[np.inf, 0.5]]), nn.quadratic_cost, 1, 0.05),
}


@pytest.mark.parametrize("case", list(BAD_SGD_CALLS))
def test_bad_sgd_arguments_raise_and_change_nothing(case):
    eng = nn.native_float()
    x, y = article_data(eng)
    with article_network(eng) as inference, nn.training_network(inference, x) as training:
        before = snapshot(training)
        with pytest.raises((TypeError, ValueError)) as error:
            nn.sgd(training, *BAD_SGD_CALLS[case](y))
        assert len(str(error.value)) > 20
        assert_unchanged(before, snapshot(training))


def test_nan_in_the_training_input_is_refused_before_training():
    eng = nn.native_float()
    x, y = article_data(eng)
    with article_network(eng) as inference, nn.training_network(inference, x) as training:
        x[0, 0] = np.nan   # overwritten after the network was built
        before = snapshot(training)
        with pytest.raises(ValueError, match="NaN"):
            nn.sgd(training, y, nn.quadratic_cost, 1, 0.05)
        assert_unchanged(before, snapshot(training))


@pytest.mark.parametrize("x_host, message", [
    ([[0.3, 0.9, 0.1]], "rows"),                   # 1 row, the network expects 2
    ([[0.3], [0.9], [0.1]], "rows"),
    (np.zeros((2, 0)), "empty"),
    ([[0.3, np.nan], [0.9, 0.9]], "NaN"),
])
def test_bad_inputs_for_inference_and_training(x_host, message):
    eng = nn.native_float()
    x = np.asarray(x_host, dtype=np.float32)
    with article_network(eng) as inference:
        before = snapshot(inference)
        with pytest.raises(ValueError, match=message):
            inference(x)
        with pytest.raises(ValueError, match=message):
            nn.training_network(inference, x)
        assert_unchanged(before, snapshot(inference))


def test_inputs_of_another_dtype_or_engine_are_refused():
    eng = nn.native_float()
    with article_network(eng) as inference:
        for x in (np.array([[0.3, 0.3], [0.9, 0.9]]),   # float64 on a float32 engine
                  nn.native_double().matrix([[0.3, 0.3], [0.9, 0.9]]),
                  [[0.3, 0.3], [0.9, 0.9]]):
            with pytest.raises(TypeError, match="native_float"):
                inference(x)
            with pytest.raises(TypeError, match="native_float"):
                nn.training_network(inference, x)


def test_transfer_into_a_matrix_of_another_shape_is_refused():
    eng = nn.native_float()
    with article_network(eng) as inference:
        weights = inference.layers[0].weights
        before = eng.to_numpy(weights)
        with pytest.raises(ValueError, match="order='F'"):
            eng.transfer([0.3, 0.1, 0.9, 0.0, 0.6, 2.0, 3.7, 1.0], weights)
        np.testing.assert_array_equal(before, eng.to_numpy(weights))


@pytest.mark.parametrize("make", [
    lambda: nn.fully_connected(4, "relu"),
    lambda: nn.fully_connected(4, None),
    lambda: nn.fully_connected(0, nn.tanh),
    lambda: nn.fully_connected(-2, nn.tanh),
    lambda: nn.fully_connected(2.5, nn.tanh),
    lambda: nn.inference_network(nn.native_float(), 0, [nn.fully_connected(1, nn.tanh)]),
    lambda: nn.inference_network(nn.native_float(), 2, []),
    lambda: nn.inference_network(nn.native_float(), 2, [4]),
])
def test_bad_network_descriptions_are_refused(make):
    with pytest.raises((TypeError, ValueError)):
        make()


def test_unknown_activation_names_the_known_ones():
    with pytest.raises(TypeError, match="nn.sigmoid or nn.tanh"):
        nn.fully_connected(4, "relu")


def test_divergence_stops_training_with_a_clear_error():
    eng = nn.native_float()
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


def test_matrices_of_another_engine_are_refused_everywhere():
    eng = nn.native_float()
    other = engine("opencl_float")
    x_other, y_other = article_data(other)
    x, y = article_data(eng)
    with article_network(eng) as inference, nn.training_network(inference, x) as training:
        before = snapshot(training)
        with pytest.raises(TypeError, match="opencl_float|native_float"):
            inference(x_other)
        with pytest.raises(TypeError, match="native_float"):
            nn.training_network(inference, x_other)
        with pytest.raises(TypeError, match="native_float"):
            nn.sgd(training, y_other, nn.quadratic_cost, 1, 0.05)
        with pytest.raises(TypeError, match="native_float"):
            eng.transfer(np.zeros((4, 2)), other.zeros((4, 2)))
        assert_unchanged(before, snapshot(training))
    with article_network(other) as foreign:
        with pytest.raises(TypeError, match="opencl_float"):
            foreign(x)
