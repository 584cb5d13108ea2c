"""Weight initialization (chapter 10): statistics, repeatability on every engine, bad input."""

import math

import numpy as np
import pytest

import nnlib as nn
from conftest import engine
from nnlib.init import constant, glorot, initialize, normal, uniform


def network(eng, in_dim=3, widths=(5, 4, 2)):
    return nn.inference_network(eng, in_dim, [nn.fully_connected(w, nn.tanh) for w in widths])


def parameters(net):
    eng = net.eng
    return [eng.to_numpy(p) for layer in net.layers for p in (layer.weights, layer.bias)]


def wide(eng, n_in=400, n_out=600):
    return nn.inference_network(eng, n_in, [nn.fully_connected(n_out, nn.tanh)])


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_glorot_has_the_variance_of_the_formula(distribution):
    eng = nn.native_double()
    w = eng.to_numpy(glorot(wide(eng), seed=1, distribution=distribution).layers[0].weights)
    variance = 2 / (400 + 600)
    assert abs(w.mean()) < 0.05 * math.sqrt(variance)
    assert w.var() == pytest.approx(variance, rel=0.02)
    if distribution == "uniform":
        assert np.abs(w).max() <= math.sqrt(6 / 1000)
        assert np.abs(w).max() > 0.99 * math.sqrt(6 / 1000)


def test_glorot_uses_each_layers_own_fans_and_gain():
    eng = nn.native_double()
    net = nn.inference_network(eng, 300, [nn.fully_connected(100, nn.tanh),
                                          nn.fully_connected(500, nn.sigmoid)])
    glorot(net, seed=2, gain=4.0)
    for layer in net.layers:
        n_out, n_in = layer.weights.shape
        assert eng.to_numpy(layer.weights).var() == pytest.approx(16 * 2 / (n_in + n_out), rel=0.03)


def test_biases_are_zero_and_the_network_is_returned():
    eng = nn.native_float()
    net = network(eng)
    for layer in net.layers:
        eng.fill(layer.bias, 0.7)
    for init in (lambda n: glorot(n), lambda n: normal(n, 0.5), lambda n: uniform(n, -1, 1),
                 lambda n: constant(n, 0.2)):
        assert init(net) is net
        assert all(not eng.to_numpy(layer.bias).any() for layer in net.layers)


def test_simple_rules():
    eng = nn.native_double()
    assert all((w == 0.25).all() for w in parameters(constant(network(eng), 0.25))[0::2])
    w = eng.to_numpy(uniform(wide(eng), 0.0, 1.0).layers[0].weights)
    assert w.min() >= 0 and w.max() < 1 and w.mean() == pytest.approx(0.5, abs=0.01)
    w = eng.to_numpy(normal(wide(eng), 2.0).layers[0].weights)
    assert w.std() == pytest.approx(2.0, rel=0.02)


def test_same_seed_same_network_other_seed_other_network():
    eng = nn.native_float()
    a, b, c = (parameters(glorot(network(eng), seed=s)) for s in (5, 5, 6))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_later_layers_do_not_change_earlier_ones():
    eng = nn.native_float()
    short = glorot(network(eng, widths=(5, 4)), seed=3)
    long = glorot(network(eng, widths=(5, 4, 7, 2)), seed=3)
    for s, l in zip(short.layers, long.layers):
        np.testing.assert_array_equal(eng.to_numpy(s.weights), eng.to_numpy(l.weights))


def test_a_generator_can_be_passed_and_none_draws_fresh():
    eng = nn.native_double()
    from_int = parameters(glorot(network(eng), seed=9))[0]
    from_generator = parameters(glorot(network(eng), seed=np.random.default_rng(9)))[0]
    np.testing.assert_array_equal(from_int, from_generator)
    assert not np.array_equal(parameters(glorot(network(eng), seed=None))[0],
                              parameters(glorot(network(eng), seed=None))[0])


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_the_same_seed_gives_the_same_weights_on_every_engine(any_engine, distribution):
    """Drawn in float64 on the host: every engine holds the float64 draw rounded to its dtype."""
    reference = parameters(glorot(network(nn.native_double(), 6, (40, 30, 3)),
                                  seed=11, distribution=distribution))
    with glorot(network(any_engine, 6, (40, 30, 3)), seed=11, distribution=distribution) as net:
        for mine, theirs in zip(parameters(net), reference):
            np.testing.assert_array_equal(mine, theirs.astype(any_engine.dtype))


def test_float_engines_agree_bit_for_bit():
    native = parameters(glorot(network(nn.native_float()), seed=4))
    for name in ("opencl_float", "cuda_float"):
        try:
            eng = engine(name)
        except pytest.skip.Exception:
            continue
        with glorot(network(eng), seed=4) as net:
            assert all(np.array_equal(a, b) for a, b in zip(parameters(net), native))


def nan_in_last_layer(shape):
    """A draw that is fine for the first layers and NaN for the last, the only one with 2 rows."""
    return np.full(shape, np.nan if shape[0] == 2 else 0.1)


@pytest.mark.parametrize("call, error", [
    (lambda net: glorot(net, distribution="cauchy"), ValueError),
    (lambda net: glorot(net, gain=0), ValueError),
    (lambda net: glorot(net, gain=float("nan")), ValueError),
    (lambda net: glorot(net, seed=-1), ValueError),
    (lambda net: glorot(net, seed=1.5), TypeError),
    (lambda net: glorot(net, seed=True), TypeError),
    (lambda net: normal(net, -1.0), ValueError),
    (lambda net: normal(net, 0.0), ValueError),
    (lambda net: uniform(net, 1.0, 1.0), ValueError),
    (lambda net: constant(net, float("inf")), ValueError),
    (lambda net: constant(net, "0.5"), ValueError),
    (lambda net: initialize(net, lambda rng, shape: np.zeros((1, 1))), ValueError),
    # the last layer's draw fails after the first layer's succeeded: nothing may have been written
    (lambda net: initialize(net, lambda rng, shape: nan_in_last_layer(shape)), ValueError),
])
def test_bad_arguments_are_refused_and_the_network_is_unchanged(call, error):
    eng = nn.native_float()
    net = glorot(network(eng), seed=0)
    for layer in net.layers:
        eng.fill(layer.bias, 0.5)
    before = parameters(net)
    with pytest.raises(error):
        call(net)
    for b, a in zip(before, parameters(net)):
        np.testing.assert_array_equal(b, a)


def test_only_inference_networks_alive_ones():
    eng = nn.native_float()
    net = network(eng)
    with pytest.raises(TypeError, match="inference network"):
        glorot(nn.training_network(net, eng.zeros((3, 2))))
    with pytest.raises(TypeError, match="inference network"):
        glorot([net])
    net.release()
    with pytest.raises(RuntimeError, match="released"):
        glorot(net)


def test_glorot_start_trains_a_deep_tanh_network_where_a_constant_start_cannot():
    """The chapter's claim in small: symmetric weights stay symmetric, Glorot's do not."""
    eng = nn.native_double()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 64))
    y = (x[0] * x[1] > 0).astype(float)[None, :]     # XOR of the signs: not linearly separable
    results = {}
    for name, init in (("constant", lambda n: constant(n, 0.1)),
                       ("glorot", lambda n: glorot(n, seed=0))):
        net = init(nn.inference_network(eng, 2, [nn.fully_connected(16, nn.tanh),
                                                  nn.fully_connected(1, nn.sigmoid)]))
        with nn.training_network(net, eng.matrix(x)) as training:
            results[name] = nn.sgd(training, eng.matrix(y), nn.quadratic_cost, 1500, 1.0)
        w = eng.to_numpy(net.layers[0].weights)
        if name == "constant":
            assert np.ptp(w, axis=0).max() < 1e-12
    assert results["glorot"] < results["constant"] / 5
