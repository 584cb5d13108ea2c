"""Mini-batch training (chapter 11): shuffling, batches, bad input, and the digits data set."""

import time

import numpy as np
import pytest

import nnlib as nn
from nnlib.init import glorot
from nnlib.minibatch import accuracy, one_hot, predict, train
from nnlib.training import TrainingDiverged


def network(eng, in_dim=3, hidden=6, out_dim=2, seed=0):
    net = nn.inference_network(eng, in_dim, [nn.fully_connected(hidden, nn.tanh),
                                             nn.fully_connected(out_dim, nn.sigmoid)])
    return glorot(net, seed=seed)


def data(n=23, in_dim=3, out_dim=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(in_dim, n)), rng.uniform(0.1, 0.9, (out_dim, n))


def parameters(net):
    eng = net.eng
    return [eng.to_numpy(p) for layer in net.layers for p in (layer.weights, layer.bias)]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


# ---- one_hot, predict, accuracy -----------------------------------------------------------------

def test_one_hot():
    np.testing.assert_array_equal(one_hot([2, 0, 1, 2]), [[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]])
    assert one_hot(np.array([1, 1]), classes=4).shape == (4, 2)
    for labels, classes, error in [([0.5, 1.0], None, TypeError), ([-1, 0], None, ValueError),
                                   ([3], 3, ValueError), ([], None, ValueError),
                                   ([[1, 2]], None, ValueError), ([1], 0, ValueError)]:
        with pytest.raises(error):
            one_hot(labels, classes)


def test_predict_and_accuracy_take_host_arrays_and_engine_matrices():
    eng = nn.native_float()
    net = network(eng)
    x, _ = data()
    expected = eng.to_numpy(net(eng.matrix(x))).argmax(axis=0)
    np.testing.assert_array_equal(predict(net, x), expected)
    np.testing.assert_array_equal(predict(net, eng.matrix(x)), expected)
    assert accuracy(net, x, expected) == 1.0
    assert accuracy(net, x, 1 - expected) == 0.0
    with pytest.raises(ValueError, match="labels"):
        accuracy(net, x, expected[:-1])


# ---- train: what it computes ------------------------------------------------------------------

def test_returns_one_cost_per_epoch_and_calls_on_epoch():
    eng = nn.native_float()
    x, y = data()
    seen = []
    costs = train(network(eng), x, y, nn.quadratic_cost, 4, 0.5, batch_size=5,
                  on_epoch=lambda epoch, cost: seen.append((epoch, cost)))
    assert len(costs) == 4 and all(isinstance(c, float) and c > 0 for c in costs)
    assert seen == list(enumerate(costs, 1))
    schedule = train(network(eng), x, y, nn.quadratic_cost, [(2, 0.5), (3, 0.1)], batch_size=5)
    assert len(schedule) == 5


def test_every_example_is_used_each_epoch_in_a_fresh_order(monkeypatch):
    """Spy on the transfers into the batch matrix: each epoch covers all examples, topped up."""
    eng = nn.native_double()
    n, batch_size, epochs = 23, 5, 3
    x = np.vstack([np.arange(n), np.zeros(n), np.zeros(n)]) / 100   # row 0 names the example
    _, y = data(n)
    sent = []
    transfer = eng.transfer

    def spy(host, dest):
        if np.shape(host) == (3, batch_size):
            sent.append(np.rint(np.asarray(host)[0] * 100).astype(int))
        return transfer(host, dest)

    monkeypatch.setattr(eng, "transfer", spy)
    train(network(eng), x, y, nn.quadratic_cost, epochs, 0.1, batch_size=batch_size, seed=0)
    batches = -(-n // batch_size)
    assert len(sent) == epochs * batches
    orders = [np.concatenate(sent[e * batches:(e + 1) * batches]) for e in range(epochs)]
    for order in orders:
        assert sorted(set(order)) == list(range(n))
        # the last batch is topped up from the start of the order
        np.testing.assert_array_equal(order[n:], order[:batches * batch_size - n])
    assert not np.array_equal(orders[0], orders[1])


def test_one_full_batch_equals_sgd():
    """batch_size = n: each epoch is one step on all examples, exactly what nn.sgd computes."""
    eng = nn.native_double()
    x, y = data()
    mine = network(eng)
    costs = train(mine, x, y, nn.quadratic_cost, 5, 0.3, batch_size=x.shape[1])
    theirs = network(eng)
    with nn.training_network(theirs, eng.matrix(x)) as training:
        reference = nn.sgd(training, eng.matrix(y), nn.quadratic_cost, [(1, 0.3)] * 5)
    np.testing.assert_allclose(costs, reference, rtol=1e-12)
    for a, b in zip(parameters(mine), parameters(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_a_batch_of_one_is_plain_stochastic_gradient_descent():
    eng = nn.native_double()
    x, y = data(n=4)
    mine = network(eng)
    train(mine, x, y, nn.quadratic_cost, 1, 0.2, batch_size=1, seed=3)
    theirs = network(eng)
    for j in np.random.default_rng(3).permutation(4):
        with nn.training_network(theirs, eng.matrix(x[:, [j]])) as training:
            nn.sgd(training, eng.matrix(y[:, [j]]), nn.quadratic_cost, 1, 0.2)
    for a, b in zip(parameters(mine), parameters(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_same_seed_repeats_exactly_other_seed_differs():
    eng = nn.native_float()
    x, y = data()
    runs = []
    for seed in (1, 1, 2):
        net = network(eng)
        costs = train(net, x, y, nn.quadratic_cost, 3, 0.5, batch_size=4, seed=seed)
        runs.append((costs, parameters(net)))
    assert runs[0][0] == runs[1][0]
    assert_same(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]


def test_engine_matrices_are_accepted_and_left_alone():
    eng = nn.native_float()
    x, y = data()
    xe, ye = eng.matrix(x), eng.matrix(y)
    from_host = train(network(eng), x, y, nn.quadratic_cost, 2, 0.5, batch_size=6)
    from_engine = train(network(eng), xe, ye, nn.quadratic_cost, 2, 0.5, batch_size=6)
    assert from_host == from_engine
    np.testing.assert_array_equal(eng.to_numpy(xe), x.astype(np.float32))


def test_the_same_run_on_every_engine(any_engine):
    x, y = data()
    reference = train(network(nn.native_double()), x, y, nn.quadratic_cost, 3, 0.5, batch_size=4)
    with network(any_engine) as net:
        costs = train(net, x, y, nn.quadratic_cost, 3, 0.5, batch_size=4)
    np.testing.assert_allclose(costs, reference, rtol=1e-4)


def test_divergence_is_reported():
    eng = nn.native_float()
    net = network(eng)
    x, y = data()
    with pytest.raises(TrainingDiverged, match="smaller learning rate"):
        train(net, x, y, nn.quadratic_cost, [(2, 1e39), (2, 0.5)], batch_size=1)


# ---- train: bad input is refused before anything changes ----------------------------------------

def bad_calls():
    x, y = data()
    nan_x, inf_y = x.copy(), y.copy()
    nan_x[1, 4] = np.nan
    inf_y[0, 2] = np.inf
    ok = dict(batch_size=5)
    return [
        ((x, y[:, :-1], nn.quadratic_cost, 2, 0.5), ok, ValueError, "examples"),
        ((x.T, y, nn.quadratic_cost, 2, 0.5), ok, ValueError, "transposed"),
        ((x, y[:1], nn.quadratic_cost, 2, 0.5), ok, ValueError, "targets y has 1 rows"),
        ((x[0], y, nn.quadratic_cost, 2, 0.5), ok, ValueError, "one example per column"),
        ((x, y, nn.quadratic_cost, 2, 0.5), dict(batch_size=0), ValueError, "batch_size"),
        ((x, y, nn.quadratic_cost, 2, 0.5), dict(batch_size=24), ValueError, "batch_size"),
        ((x, y, nn.quadratic_cost, 2, 0.5), dict(batch_size=2.5), ValueError, "batch_size"),
        ((x, y, nn.quadratic_cost, 0, 0.5), ok, ValueError, "epochs"),
        ((x, y, nn.quadratic_cost, 2, -0.5), ok, ValueError, "eta"),
        ((x, y, nn.quadratic_cost, [(2, 0.5), (1, 0)]), ok, ValueError, "eta"),
        ((nan_x, y, nn.quadratic_cost, 2, 0.5), ok, ValueError, "NaN"),
        ((x, inf_y, nn.quadratic_cost, 2, 0.5), ok, ValueError, "NaN"),
        ((np.full((3, 23), 1e39), y, nn.quadratic_cost, 2, 0.5), ok, ValueError, "NaN or infinity"),
        ((x.astype(str), y, nn.quadratic_cost, 2, 0.5), ok, TypeError, "numbers"),
        ((x, y, "cross-entropy", 2, 0.5), ok, TypeError, "cost"),
        ((x, y, nn.quadratic_cost, 2, 0.5), dict(batch_size=5, seed=-3), ValueError, "seed"),
        ((x, y, nn.quadratic_cost, 2, 0.5), dict(batch_size=5, on_epoch="print"), TypeError,
         "on_epoch"),
    ]


@pytest.mark.parametrize("index", range(len(bad_calls())))
def test_bad_input_is_refused_and_the_network_is_unchanged(index):
    args, options, error, message = bad_calls()[index]
    eng = nn.native_float()
    net = network(eng)
    before = parameters(net)
    with pytest.raises(error, match=message):
        train(net, *args, **options)
    assert_same(before, parameters(net))


def test_only_live_inference_networks():
    eng = nn.native_float()
    x, y = data()
    net = network(eng)
    with pytest.raises(TypeError, match="inference network"):
        training = nn.training_network(net, eng.matrix(x))
        train(training, x, y, nn.quadratic_cost, 1, 0.5, batch_size=5)
    net.release()
    with pytest.raises(RuntimeError, match="released"):
        train(net, x, y, nn.quadratic_cost, 1, 0.5, batch_size=5)


# ---- the digits ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x_train, x_test, l_train, l_test = train_test_split(d.data / 16.0, d.target, test_size=0.25,
                                                        random_state=0, stratify=d.target)
    return x_train.T, one_hot(l_train, 10), x_test.T, l_test


def digits_run(eng, digits, epochs=30):
    x_train, y_train, x_test, l_test = digits
    net = glorot(nn.inference_network(eng, 64, [nn.fully_connected(32, nn.tanh),
                                                nn.fully_connected(10, nn.sigmoid)]), seed=0)
    start = time.perf_counter()
    costs = train(net, x_train, y_train, nn.quadratic_cost, epochs, 1.0, batch_size=10, seed=0)
    return net, costs, accuracy(net, x_test, l_test), time.perf_counter() - start


def test_digits_reach_95_percent_quickly_and_repeatably(digits):
    eng = nn.native_float()
    net, costs, acc, seconds = digits_run(eng, digits)
    assert acc >= 0.95, acc
    assert seconds < 30, seconds            # a few seconds at most on a 2-core CPU
    again, costs_again, acc_again, _ = digits_run(eng, digits)
    assert costs == costs_again and acc == acc_again
    assert_same(parameters(net), parameters(again))


def test_digits_learn_on_every_float_engine(float_engine, digits):
    _, costs, _, _ = digits_run(nn.native_float(), digits, epochs=2)
    net, other, acc, _ = digits_run(float_engine, digits, epochs=2)
    net.release()
    np.testing.assert_allclose(other, costs, rtol=1e-3)
    assert acc > 0.9
