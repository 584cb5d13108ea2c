"""native_float(fused=True): Numba's loops against the NumPy engine they stand in for.

The derivatives compute what NumPy computes, operation by operation, so they must agree bit for
bit; the sigmoid uses a rational tanh and must stay within a few units of 2^-24 of NumPy's. Where
a loop does not apply (other layouts, shapes, overlaps) the engine must behave as the plain one.
"""

import warnings

import numpy as np
import pytest

import nnlib as nn
from article import DRAFT_COSTS, FIXED_COSTS, run_article
from nnlib import bench, minibatch
from nnlib.engines import native

REASON = native.fused_unavailable()
needs_numba = pytest.mark.skipif(REASON is not None, reason=f"no fused engine: {REASON}")
ULP_HALF = 2.0 ** -24           # the spacing of float32 numbers in [0.5, 1)


@pytest.fixture(scope="module")
def engines():
    return nn.native_float(), nn.native_float(fused=True)


def _inputs(shape, seed=0):
    """float32 values across every regime of the activations: saturated, ordinary, tiny, zero."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(shape) * 4
    z.flat[:8] = [0.0, -0.0, 1e-30, -3e-4, 9.0, -9.0, 100.0, -100.0]
    return z.astype(np.float32)


@needs_numba
@pytest.mark.parametrize("shape", [(37, 53), (1000,), (1, 1)])
def test_derivatives_agree_bit_for_bit(engines, shape):
    plain, fused = engines
    a = np.tanh(_inputs(shape))
    s = 0.5 * a + 0.5
    for op, out in (("tanh_prime_from_output", a), ("sigmoid_prime_from_output", s)):
        expected = getattr(plain, op)(out, np.empty_like(out))
        got = getattr(fused, op)(out, np.empty_like(out))
        np.testing.assert_array_equal(got, expected, err_msg=op)
        in_place = out.copy()
        assert getattr(fused, op)(in_place, in_place) is in_place
        np.testing.assert_array_equal(in_place, expected, err_msg=f"{op}, in place")


@needs_numba
def test_sigmoid_rounds_within_four_units_of_numpy(engines):
    plain, fused = engines
    z = np.concatenate([_inputs((200_000,)), np.linspace(-17, 17, 100_001, dtype=np.float32)])
    expected = plain.sigmoid(z, np.empty_like(z))
    got = fused.sigmoid(z, np.empty_like(z))
    difference = np.abs(got.astype(np.float64) - expected) / ULP_HALF
    assert difference.max() <= 4, difference.max()
    exact = 1 / (1 + np.exp(-z.astype(np.float64)))
    assert np.abs(got - exact).max() <= 4 * ULP_HALF
    assert got[0] == 0.5 and got[6] == 1.0 and got[7] == 0.0   # sigmoid(0), saturation
    assert np.all((got >= 0) & (got <= 1))
    in_place = z.copy()
    np.testing.assert_array_equal(fused.sigmoid(in_place, in_place), got)


@needs_numba
def test_what_the_loops_cannot_take_goes_to_numpy(engines):
    plain, fused = engines
    z = _inputs((6, 8))
    for x, out in [(z[:, ::2], np.empty((6, 4), np.float32)),        # a strided view
                   (z, np.empty((6, 8), np.float32).T.copy().T)]:     # a Fortran-ordered out
        np.testing.assert_array_equal(fused.sigmoid(x, out), plain.sigmoid(x, out.copy()))
    overlapping = z.reshape(-1).copy()
    expected = plain.tanh_prime_from_output(overlapping[:-1], overlapping[1:].copy())
    got = fused.tanh_prime_from_output(overlapping[:-1], overlapping[1:])   # shifted by one
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError):           # shapes that do not fit: NumPy's own refusal
        fused.sigmoid(z, np.empty((6, 7), np.float32))
    released = np.ones((2, 2), np.float32)
    fused.release(released)
    with pytest.raises(ValueError, match="released"):
        fused.sigmoid_prime_from_output(released, np.empty((2, 2), np.float32))


@needs_numba
def test_training_follows_the_numpy_engine(engines):
    costs, weights = [], []
    x = _inputs((16, 50), seed=1) / 4
    y = np.random.default_rng(2).uniform(0.1, 0.9, (3, 50)).astype(np.float32)
    for eng in engines:
        inference = nn.inference_network(eng, 16, [nn.fully_connected(8, nn.tanh),
                                                   nn.fully_connected(3, nn.sigmoid)])
        nn.glorot(inference, seed=3)
        with inference, nn.training_network(inference, eng.matrix(x)) as training:
            costs.append(nn.sgd(training, eng.matrix(y), nn.quadratic_cost, [(20, 0.5)]))
            weights.append([eng.to_numpy(layer.weights) for layer in inference.layers])
    np.testing.assert_allclose(costs[1], costs[0], rtol=1e-5)
    for fused_w, plain_w in zip(weights[1], weights[0]):
        np.testing.assert_allclose(fused_w, plain_w, rtol=1e-5, atol=1e-6)


@needs_numba
def test_the_articles_digits_hold(engines):
    plain, fused = engines
    for draft, printed in ((False, FIXED_COSTS), (True, DRAFT_COSTS)):
        untrained, costs, trained, _ = run_article(fused, draft=draft)
        _, plain_costs, _, _ = run_article(plain, draft=draft)
        assert [f"{a:.2f}" for a in untrained.ravel()] == ["0.44", "0.44"]
        assert [f"{a:.2f}" for a in trained.ravel()] == ["0.50", "0.50"]
        np.testing.assert_allclose(costs[:3], printed[:3], rtol=3e-5)
        np.testing.assert_allclose(costs[:3], plain_costs[:3], rtol=1e-6)


def test_without_numba_the_option_says_why_and_falls_back(monkeypatch):
    monkeypatch.setattr(native, "_fused_reason", ["Numba is not installed (test)"])
    with pytest.warns(RuntimeWarning, match="Numba is not installed"):
        eng = nn.native_float(fused=True)
    assert not eng.fused and eng.name == "native_float"
    assert "Numba is not installed" in bench.engine_status()["native_fused"]
    with pytest.raises(nn.EngineUnavailable, match="Numba is not installed"):
        bench.BENCH_ENGINES["native_fused"]()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not nn.native_float().fused           # no option, no warning


def test_train_gathers_into_the_batch_matrix_as_it_did_through_a_buffer(monkeypatch):
    """On the NumPy engines the batch matrix is its own host buffer: the same numbers as when
    np.take gathered into a separate buffer that was then copied in."""
    def separate_buffers(eng, x, y, batch_size):
        x_batch, y_batch = eng.zeros((x.shape[0], batch_size)), eng.zeros((y.shape[0], batch_size))
        return np.empty_like(x_batch), np.empty_like(y_batch), x_batch, y_batch

    eng = nn.native_float()
    x = _inputs((12, 45), seed=4) / 4
    y = nn.one_hot(np.arange(45) % 3).astype(np.float32)
    results = []
    for buffers in (minibatch._batch_buffers, separate_buffers):
        monkeypatch.setattr(minibatch, "_batch_buffers", buffers)
        inference = nn.glorot(nn.inference_network(eng, 12, [nn.fully_connected(5, nn.tanh),
                                                              nn.fully_connected(3, nn.sigmoid)]),
                              seed=5)
        costs = nn.train(inference, x, y, nn.quadratic_cost, 3, 0.5, batch_size=10, seed=6)
        results.append((costs, [eng.to_numpy(layer.weights) for layer in inference.layers]))
        inference.release()
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)
