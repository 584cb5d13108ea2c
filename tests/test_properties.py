"""Property-based tests (hypothesis): every engine agrees with a float64 NumPy reference on random
shapes and values, for the BLAS-like operations, a forward pass and a training step."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnlib as nn
from conftest import engine
from nnlib.engines import ENGINES

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
dims = st.integers(1, 24)
seeds = st.integers(0, 2**32 - 1)


def tolerance(eng):
    return dict(rtol=1e-4, atol=1e-5) if eng.dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def data(eng, rng, *shape, scale=1.0):
    """Random values the engine's dtype holds exactly, as float64."""
    return (scale * rng.standard_normal(shape)).astype(eng.dtype).astype(np.float64)


@pytest.fixture(params=list(ENGINES))
def eng(request):
    return engine(request.param)


@SETTINGS
@given(m=dims, n=dims, k=dims, trans_a=st.booleans(), trans_b=st.booleans(),
       alpha=st.floats(-2, 2), beta=st.sampled_from([0.0, 1.0, -0.5]), seed=seeds)
def test_gemm(eng, m, n, k, trans_a, trans_b, alpha, beta, seed):
    rng = np.random.default_rng(seed)
    a = data(eng, rng, *((k, m) if trans_a else (m, k)))
    b = data(eng, rng, *((n, k) if trans_b else (k, n)))
    c = data(eng, rng, m, n)
    out = eng.matrix(c)
    eng.gemm(alpha, eng.matrix(a), eng.matrix(b), beta, out, trans_a=trans_a, trans_b=trans_b)
    expected = alpha * (a.T if trans_a else a) @ (b.T if trans_b else b) + beta * c
    np.testing.assert_allclose(eng.to_numpy(out), expected, **tolerance(eng))


@SETTINGS
@given(m=dims, n=dims, trans=st.booleans(), alpha=st.floats(-2, 2), seed=seeds)
def test_gemv_and_ger(eng, m, n, trans, alpha, seed):
    rng = np.random.default_rng(seed)
    a = data(eng, rng, m, n)
    x, y = data(eng, rng, m if trans else n), data(eng, rng, n if trans else m)
    out = eng.matrix(y)
    eng.gemv(alpha, eng.matrix(a), eng.matrix(x), 1.0, out, trans_a=trans)
    expected = alpha * (a.T if trans else a) @ x + y
    np.testing.assert_allclose(eng.to_numpy(out), expected, **tolerance(eng))
    u, v = data(eng, rng, m), data(eng, rng, n)
    target = eng.matrix(a)
    eng.ger(alpha, eng.matrix(u), eng.matrix(v), target)
    np.testing.assert_allclose(eng.to_numpy(target), a + alpha * np.outer(u, v), **tolerance(eng))


@SETTINGS
@given(m=dims, n=dims, scale=st.sampled_from([0.1, 1.0, 10.0, 100.0]), seed=seeds)
def test_element_wise(eng, m, n, scale, seed):
    rng = np.random.default_rng(seed)
    z = data(eng, rng, m, n, scale=scale)
    sig = 1 / (1 + np.exp(-z))
    th = np.tanh(z)
    # the slopes take the activation's output; fed the exact one, they give 1 - a², a (1 - a)
    expected = {"tanh": (z, th), "tanh_prime_from_output": (th, 1 / np.cosh(z) ** 2),
                "sigmoid": (z, sig), "sigmoid_prime_from_output": (sig, sig * (1 - sig))}
    for name, (argument, reference) in expected.items():
        out = eng.zeros((m, n))
        getattr(eng, name)(eng.matrix(argument), out)
        result = eng.to_numpy(out)
        assert np.isfinite(result).all(), name
        np.testing.assert_allclose(result, reference, **tolerance(eng), err_msg=name)


def reference_forward(params, x):
    """Plain float64 NumPy: a = activation(W a - b) layer by layer."""
    functions = {"tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z))}
    zs, activations = [], [x]
    for w, b, name in params:
        zs.append(w @ activations[-1] - b[:, None])
        activations.append(functions[name](zs[-1]))
    return zs, activations


@SETTINGS
@given(in_dim=dims, widths=st.lists(st.integers(1, 12), min_size=1, max_size=3),
       names=st.lists(st.sampled_from(["tanh", "sigmoid"]), min_size=3, max_size=3),
       batch=st.integers(1, 16), eta=st.floats(0.01, 2.0), seed=seeds)
def test_forward_and_one_training_step(eng, in_dim, widths, names, batch, eta, seed):
    rng = np.random.default_rng(seed)
    activations = {"tanh": nn.tanh, "sigmoid": nn.sigmoid}
    layers = [nn.fully_connected(w, activations[f]) for w, f in zip(widths, names)]
    net = nn.inference_network(eng, in_dim, layers)
    params = []
    for layer, name in zip(net.layers, names):
        w = data(eng, rng, *layer.weights.shape, scale=0.7)
        b = data(eng, rng, layer.out_dim, scale=0.5)
        eng.transfer(w, layer.weights)
        eng.transfer(b, layer.bias)
        params.append([w, b, name])
    x = data(eng, rng, in_dim, batch)
    y = rng.uniform(0.1, 0.9, (widths[-1], batch)).astype(eng.dtype).astype(float)
    with net:
        zs, outs = reference_forward(params, x)
        np.testing.assert_allclose(eng.to_numpy(net(eng.matrix(x))), outs[-1], **tolerance(eng))
        with nn.training_network(net, eng.matrix(x)) as training:
            cost = nn.sgd(training, eng.matrix(y), nn.quadratic_cost, 1, eta)
        # the same step by hand: delta = f'(z) * dC/da, W -= eta/n delta a^T, b += eta/n delta 1
        expected_cost = ((outs[-1] - y) ** 2).sum() / (2 * y.size)
        np.testing.assert_allclose(cost, expected_cost, **tolerance(eng))
        derivative = outs[-1] - y
        for i in reversed(range(len(params))):
            w, b, name = params[i]
            prime = 1 - outs[i + 1] ** 2 if name == "tanh" else outs[i + 1] * (1 - outs[i + 1])
            delta = prime * derivative
            derivative = w.T @ delta
            params[i][0] = w - eta / batch * delta @ outs[i].T
            params[i][1] = b + eta / batch * delta.sum(axis=1)
        for layer, (w, b, _) in zip(net.layers, params):
            np.testing.assert_allclose(eng.to_numpy(layer.weights), w, **tolerance(eng))
            np.testing.assert_allclose(eng.to_numpy(layer.bias), b, **tolerance(eng))
