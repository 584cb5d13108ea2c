"""The backward pass against finite differences, for every parameter, on every engine."""

import numpy as np
import pytest

import nnlib as nn
from nnlib.gradcheck import check_gradients, random_case

CASES = [((2,), (nn.sigmoid,)), ((1,), (nn.tanh,)), ((4, 2), (nn.tanh, nn.sigmoid)),
         ((4, 3), (nn.sigmoid, nn.tanh)), ((5, 4, 3), (nn.tanh, nn.tanh, nn.sigmoid)),
         ((3, 5, 2), (nn.sigmoid, nn.sigmoid, nn.sigmoid))]


@pytest.mark.parametrize("seed, case", list(enumerate(CASES)))
def test_every_update_is_the_negative_gradient(any_engine, seed, case):
    tolerance = 1e-7 if any_engine.dtype == np.float64 else 2e-4
    net, x, y = random_case(any_engine, *case, seed=seed)
    with net:
        before = [any_engine.to_numpy(layer.weights) for layer in net.layers]
        report = check_gradients(net, x, y)
        # the check leaves the network as it found it
        for layer, weights in zip(net.layers, before):
            np.testing.assert_array_equal(any_engine.to_numpy(layer.weights), weights)
    assert len(report) == 2 * len(case[0])
    for row in report:
        assert row["relative_error"] < tolerance, row
        assert row["cosine"] > 0.9999, row


def test_the_check_catches_the_articles_bias_step():
    def article_bias_step(training):
        for layer in training.layers:
            layer.bias_sign = -1.0

    net, x, y = random_case(nn.native_double(), (4, 2), (nn.tanh, nn.sigmoid), seed=7)
    with net:
        report = check_gradients(net, x, y, prepare=article_bias_step)
    for row in report:
        if row["parameter"] == "bias":
            assert row["cosine"] == pytest.approx(-1.0)
            assert row["relative_error"] == pytest.approx(2.0)
        else:
            assert row["relative_error"] < 1e-7


def test_the_first_layer_bug_is_invisible_to_a_one_step_check():
    # The draft (no `first` flag) overwrites the training data *after* computing a correct first
    # step, so a one-epoch gradient check passes: chapter 5's bug needs a second epoch to show.
    net, x, y = random_case(nn.native_double(), (3, 2), (nn.sigmoid, nn.sigmoid), seed=2)
    with net:
        report = check_gradients(net, x, y, prepare=lambda t: setattr(t.layers[0], "first", False))
    assert all(row["relative_error"] < 1e-7 for row in report)
