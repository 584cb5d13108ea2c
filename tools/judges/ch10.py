"""Chapter 10, Initialization: a network trained from zero weights, Glorot's numbers, the gain
of sigmoid layers, and He's initializer."""

import functools

import numpy as np

import nnlib as nn

from . import digest, expect, expect_close, numbers, question

CHAPTER = "10_initialization"
WIDTHS = [32, 32, 32, 32]


# ---- the chapter's data and helpers, mirrored ------------------------------------------------

def moons(n, noise=0.2, seed=0):
    """As the chapter's cell that defines ``moons``."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    angle = rng.uniform(0, np.pi, n)
    points = np.where(label == 0, [np.cos(angle), np.sin(angle)],
                      [1 - np.cos(angle), 0.5 - np.sin(angle)])
    return points + rng.normal(0, noise, (2, n)), label


@functools.lru_cache(maxsize=None)
def training_set():
    """``x_train`` and ``y_train`` as the cell after ``moons`` builds them."""
    train_points, train_labels = moons(200, seed=0)
    mean, std = train_points.mean(axis=1, keepdims=True), train_points.std(axis=1, keepdims=True)
    return (train_points - mean) / std, train_labels[None, :].astype(float)


def expect_chapter_data(seen):
    """The student trained on the chapter's training set, not on a changed copy."""
    x_train, y_train = training_set()
    expect(seen == [digest(x_train), digest(y_train)],
           "x_train or y_train is not the chapter's training set: run the chapter from the "
           "top without changing its data")


def deep_network(eng, activation):
    """``deep_network`` (the cell after the data), with ``activation`` in its hidden layers."""
    return nn.inference_network(eng, 2, [nn.fully_connected(w, activation) for w in WIDTHS]
                                + [nn.fully_connected(1, nn.sigmoid)])


def fit(inference, blocks=20, epochs=50, eta=0.5):
    """The chapter's ``fit``, the training half: the training cost after the last block."""
    eng = inference.eng
    x_train, y_train = training_set()
    x, y = eng.matrix(x_train), eng.matrix(y_train)
    with nn.training_network(inference, x) as training:
        for _ in range(blocks):
            cost = nn.sgd(training, y, nn.quadratic_cost, epochs, eta)
    return cost


def training_cost(inference):
    """The chapter's ``test_cost(inference, x_train, y_train)``."""
    x_train, y_train = training_set()
    a = inference.eng.to_numpy(inference(inference.eng.matrix(x_train)))
    return float(((a - y_train) ** 2).sum() / (2 * y_train.size))


# ---- the questions --------------------------------------------------------------------------

@question("ex-ch10-zero")
class Zero:
    """nnlib has no such network: the answer is a run. Its weights, biases and answers on fresh
    inputs far from the data are read back; the judge reruns the 200 epochs itself (0.03 s)."""

    def inputs(rng):
        return {"far": rng.normal(0.0, 10.0, (2, int(rng.integers(20, 60))))}

    def observe(zero, x_train, y_train, far):
        if zero is ...:
            return None
        eng = zero.eng
        x = eng.matrix(far)
        answers = eng.to_numpy(zero(x))
        eng.release(x)
        return {"weights": [eng.to_numpy(layer.weights) for layer in zero.layers],
                "biases": [eng.to_numpy(layer.bias) for layer in zero.layers],
                "far": answers, "data": [digest(x_train), digest(y_train)]}

    def judge(seen, far):
        expect(seen is not None, "replace ... with your trained network")
        expected = [(32, 2), (32, 32), (32, 32), (32, 32), (1, 32)]
        expect([np.shape(w) for w in seen["weights"]] == expected, "train deep_network(eng)")
        expect_chapter_data(seen["data"])
        weights, biases = seen["weights"], seen["biases"]
        expect(not any(np.any(w) for w in weights),
               "some weights are not zero: start without glorot")
        expect(np.any(biases[-1]), "the output bias has not moved: train the network (nn.sgd)")
        expect(not any(np.any(b) for b in biases[:-1]),
               "a hidden bias moved: were the weights all zero?")
        bias = float(biases[-1][0])
        expect_close(seen["far"], np.full((1, far.shape[1]), 1 / (1 + np.exp(bias))),
                     "the network should give one answer for every input, the sigmoid of "
                     "minus its output bias, also for inputs far from the data", rtol=1e-5)
        expect(abs(1 / (1 + np.exp(bias)) - training_set()[1].mean()) < 0.01,
               "that is far from the mean target: 200 epochs?")
        expect(abs(bias / zero_bias() - 1) < 1e-3,
               "the output bias is not where 200 epochs of nn.sgd at eta 0.5 (quadratic cost, "
               "the whole training set) take it")


@functools.lru_cache(maxsize=None)
def zero_bias():
    """The output bias of deep_network trained from zero weights, as the exercise asks."""
    eng = nn.native_float()
    x_train, y_train = training_set()
    with deep_network(eng, nn.tanh) as zero:
        with nn.training_network(zero, eng.matrix(x_train)) as training:
            nn.sgd(training, eng.matrix(y_train), nn.quadratic_cost, 200, 0.5)
        return float(eng.to_numpy(zero.layers[-1].bias)[0])


@functools.lru_cache(maxsize=None)
def glorot_sample():
    """The check's draw: a 64 -> 32 layer from glorot(seed=3), on native_double."""
    eng = nn.native_double()
    with nn.inference_network(eng, 64, [nn.fully_connected(32, nn.tanh)]) as net:
        return eng.to_numpy(nn.glorot(net, seed=3).layers[0].weights)


@question("ex-ch10-limit")
class Limit:
    """Two numbers worked out by hand; nnlib's glorot draws them, so the judge checks them against
    the formula and against a draw of the book's glorot."""

    def observe(glorot_limit, glorot_variance):
        return [None if value is ... else value for value in (glorot_limit, glorot_variance)]

    def judge(seen):
        expect(None not in seen, "replace ... with your answers")
        limit, variance = (float(numbers(v, "each answer is one number")) for v in seen)
        expect(not np.isclose(limit, np.sqrt(6 / 64)), "r depends on both fan-in and fan-out")
        expect(not np.isclose(variance, limit ** 2), "a uniform on [-r, r) has variance r²/3")
        w = glorot_sample()
        expect(np.abs(w).max() <= limit < 1.01 * np.abs(w).max(),
               "the weights do not reach r: glorot_limit is not the limit of glorot's uniform "
               "for 64 inputs and 32 outputs")
        expect(abs(w.var() / variance - 1) < 0.1, "the weights' variance is far from yours")
        expect(np.isclose(limit, np.sqrt(6 / 96)),
               "glorot_limit is near the weights' largest size but not Glorot's r")
        expect(np.isclose(variance, 2 / 96),
               "glorot_variance is near the weights' variance but not Glorot's formula")


@functools.lru_cache(maxsize=None)
def gain_reference(gain):
    """(the untrained training cost, the training cost after fit) of sigmoid hidden layers from
    glorot(seed=0, gain=gain), as the exercise's solution runs them (0.2 s each)."""
    eng = nn.native_float()
    with nn.glorot(deep_network(eng, nn.sigmoid), seed=0, gain=gain) as net:
        return training_cost(net), fit(net)


@question("ex-ch10-gain")
class Gain:
    """The answer is a run of nnlib's own glorot (its gain argument is the point). The judge
    reruns both trainings (deterministic from seed 0) and compares the costs within 0.1 %:
    float64 and float32 runs agree to 1e-6."""

    def observe(gain_costs, x_train, y_train):
        if gain_costs is ...:
            return None
        return {"costs": gain_costs, "data": [digest(x_train), digest(y_train)]}

    def judge(seen):
        expect(seen is not None, "replace ... with your answer")
        costs = seen["costs"]
        expect(isinstance(costs, dict), "gain_costs is a dict, {1.0: cost, 4.0: cost}")
        expect(set(costs) == {1.0, 4.0}, "one cost per gain, 1.0 and 4.0")
        costs = {gain: numbers(cost, "each cost is one number: the last training cost of fit")
                 for gain, cost in costs.items()}
        expect(all(c.shape == () for c in costs.values()),
               "each cost is one number: the last training cost of fit, not the history")
        costs = {float(gain): float(cost) for gain, cost in costs.items()}
        expect(all(np.isfinite(c) and c > 0 for c in costs.values()), "costs are positive numbers")
        expect_chapter_data(seen["data"])
        for gain in (1.0, 4.0):
            expect(costs[gain] < gain_reference(gain)[0],
                   f"gain {gain}: not below the untrained network's cost: the cost on the "
                   "training set after training?")
        expect(costs[4.0] < costs[1.0], "gain 4 should end lower: sigmoid hidden layers?")
        for gain in (1.0, 4.0):
            expect(abs(costs[gain] / gain_reference(gain)[1] - 1) < 1e-3,
                   f"gain {gain}: that is not the training cost that 1000 epochs of fit reach "
                   f"from glorot(sigmoid layers, seed=0, gain={gain})")


@question("ex-ch10-he")
class He:
    """nnlib has no He initializer (nn.init has constant, uniform, normal and glorot), and none
    of them gives 2 / n_in to every layer: nn.init.normal takes one std for the whole network,
    which the second layer here (another n_in) exposes; glorot's variance counts n_out too. The
    judge reads the weights of two layers of fresh sizes, drawn from fresh seeds, and judges
    their statistics and the seed's effect (hashes of the repeated draws)."""

    def inputs(rng):
        n_in = int(rng.integers(80, 151))
        widths = [int(rng.integers(200, 301)), int(rng.integers(80, 121))]
        seed, other = (int(s) for s in rng.choice(1000, size=2, replace=False) + 1)
        return {"n_in": n_in, "widths": widths, "seed": seed, "other_seed": other}

    def observe(he, n_in, widths, seed, other_seed):
        eng = nn.native_double()

        def filled():   # weights and biases not zero, so that he must set them all
            net = nn.inference_network(eng, n_in, [nn.fully_connected(w, nn.tanh)
                                                   for w in widths])
            for layer in net.layers:
                eng.fill(layer.weights, 0.5)
                eng.fill(layer.bias, 0.5)
            return net

        def hashes(net):
            return [digest(eng.to_numpy(layer.weights))[1] for layer in net.layers]

        def drawn(*seed):
            net = filled()
            he(net, *seed)
            return hashes(net)

        net = filled()
        returned = he(net, seed=seed)
        return {"same": returned is net,
                "weights": [eng.to_numpy(layer.weights) for layer in net.layers],
                "biases": [eng.to_numpy(layer.bias) for layer in net.layers],
                "first": hashes(net), "again": drawn(seed), "other": drawn(other_seed),
                "default": drawn(), "zero": drawn(0)}

    def judge(seen, n_in, widths, seed, other_seed):
        expect(seen["same"], "he must return the network, as glorot does")
        ins = [n_in, widths[0]]
        for number, (w, b, n, n_out) in enumerate(zip(seen["weights"], seen["biases"], ins,
                                                      widths)):
            layer = ["first", "second"][number]
            expect(np.shape(w) == (n_out, n), f"the {layer} layer's weights changed shape")
            var, std = w.var(), np.sqrt(w.var())
            expect(abs(var * n - 1) > 0.1, "1 / n_in suits a linear layer: ReLU zeroes half of z")
            expect(abs(var * (n + n_out) / 2 - 1) > 0.1,
                   "that is Glorot's 2 / (n_in + n_out): He uses n_in only")
            expect(abs(var * n_out / 2 - 1) > 0.06,
                   "n_in is the number of the layer's inputs, the weight matrix's columns "
                   "(shape[1]), not its rows")
            expect(number == 0 or abs(var * n_in / 2 - 1) > 0.06,
                   "the second layer's variance should be 2 over its own n_in: every layer has "
                   "its own number of inputs")
            expect(abs(var * n / 2 - 1) < 0.06,
                   f"the variance should be 2 / n_in: the {layer} layer's is not, on a layer "
                   "of another shape than the check's")
            expect(abs(w.mean()) < 0.05 * std, f"the {layer} layer's weights do not have mean 0")
            expect(np.abs(w).max() > 2.5 * std,
                   "the weights are bounded like a uniform's: draw them from a normal "
                   "distribution")
            expect(not np.any(b), "he must set every bias to zero, as initialize does")
        expect(seen["again"] == seen["first"],
               "the same seed must give the same weights: draw with initialize's rng")
        expect(seen["other"][0] != seen["first"][0],
               "another seed must give other weights: pass seed on to initialize")
        expect(seen["default"] == seen["zero"],
               "he(net) must draw as he(net, seed=0): keep the default seed 0")
