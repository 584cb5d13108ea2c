"""Chapter 11, Digits: the steps of an epoch, the shuffle seed, the hidden layer's width and the
learning rate of mini-batch training."""

import functools

import numpy as np

import nnlib as nn

from . import digest, expect, numbers, question

CHAPTER = "11_digits"
TEST_DIGITS = 450       # the test set's size: every test accuracy is a multiple of 1 / 450
NEAR = 4.5 / TEST_DIGITS   # a rerun's accuracy may differ by a few test digits (float32 rounding)


# ---- the chapter's data, mirrored -----------------------------------------------------------

@functools.lru_cache(maxsize=None)
def digits_split():
    """``x_train, y_train, x_test, test_labels``, as the chapter's cell that calls
    ``train_test_split`` builds them (after ``load_digits``)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    train_images, test_images, train_labels, test_labels = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.25, random_state=0, stratify=digits.target)
    return train_images.T, nn.one_hot(train_labels, 10), test_images.T, test_labels


def expect_chapter_data(seen):
    """The student trained and tested on the chapter's split, not on a changed copy."""
    expect(seen == [digest(a) for a in digits_split()],
           "x_train, y_train, x_test or test_labels is not the chapter's: run the chapter from "
           "the top without changing its data")


def digits_network(eng, width=32, seed=0):
    """``digits_network(eng, seed)`` of the chapter, with ``width`` hidden neurons."""
    return nn.glorot(nn.inference_network(eng, 64, [nn.fully_connected(width, nn.tanh),
                                                     nn.fully_connected(10, nn.sigmoid)]),
                     seed=seed)


def expect_shares(accuracies, message):
    """Each accuracy is a share of the 450 test digits."""
    expect(all(np.isclose(a * TEST_DIGITS, round(a * TEST_DIGITS)) for a in accuracies), message)


# ---- the questions --------------------------------------------------------------------------

@question("ex-ch11-steps")
class Steps:
    """Two numbers worked out by hand; the judge counts the steps of nnlib's own train: the order
    of one epoch (nn.minibatch._epoch_order) has one batch of 10 per step."""

    def observe(batches_per_epoch, examples_per_epoch):
        return [None if value is ... else value for value in (batches_per_epoch,
                                                              examples_per_epoch)]

    def judge(seen):
        expect(None not in seen, "replace ... with answers")
        batches, examples = (float(numbers(v, "each answer is one number")) for v in seen)
        n = digits_split()[0].shape[1]
        steps = nn.minibatch._epoch_order(np.random.default_rng(0), n, 10).size // 10
        expect(batches != n // 10, "rounding 1347 / 10 down drops the last, partial batch")
        expect(batches == steps, "that is not the number of steps train takes")
        expect(examples != n, "the last batch is full too: it is topped up")
        expect(examples == 10 * steps, "each of the batches holds 10 examples")


@functools.lru_cache(maxsize=None)
def seed_reference(shuffle_seed):
    """The weights and biases of digits_network(seed=0) after 5 epochs of train at shuffle seed
    ``shuffle_seed`` (0.04 s)."""
    x_train, y_train, _, _ = digits_split()
    eng = nn.native_float()
    with digits_network(eng) as net:
        nn.train(net, x_train, y_train, nn.quadratic_cost, 5, 1.0, batch_size=10,
                 seed=shuffle_seed)
        return [(eng.to_numpy(l.weights), eng.to_numpy(l.bias)) for l in net.layers]


def measured_accuracy(layers):
    """The test accuracy of the network with these (weights, bias) layers, measured here."""
    _, _, x_test, test_labels = digits_split()
    eng = nn.native_float()
    widths = [np.shape(w)[0] for w, _ in layers]
    with nn.inference_network(eng, 64, [nn.fully_connected(widths[0], nn.tanh),
                                        nn.fully_connected(widths[1], nn.sigmoid)]) as net:
        for layer, (w, b) in zip(net.layers, layers):
            eng.transfer(np.asarray(w, dtype=np.float64), layer.weights)
            eng.transfer(np.asarray(b, dtype=np.float64), layer.bias)
        return nn.accuracy(net, x_test, test_labels)


def same_network(a, b, atol=1e-4):
    """Two networks' (weights, bias) layers agree within float32 training's rounding (float64
    and float32 runs of these 5 epochs differ by 1e-6)."""
    return all(np.shape(x) == np.shape(y) and np.allclose(x, y, rtol=0, atol=atol)
               for layer_a, layer_b in zip(a, b) for x, y in zip(layer_a, layer_b))


@question("ex-ch11-seed")
class Seed:
    """nnlib's train takes the seed: using it is the answer. The judge reads the three networks'
    weights and biases, reruns both trainings (0.1 s), and measures the networks' test accuracies
    itself from the weights, to judge the accuracies the student reports."""

    def observe(networks, accuracies, x_train, y_train, x_test, test_labels):
        if networks is ... or accuracies is ...:
            return None
        layers = [[[net.eng.to_numpy(layer.weights), net.eng.to_numpy(layer.bias)]
                   for layer in net.layers] for net in networks]
        return {"networks": layers, "accuracies": accuracies,
                "data": [digest(a) for a in (x_train, y_train, x_test, test_labels)]}

    def judge(seen):
        expect(seen is not None, "replace ... with your answers")
        networks = seen["networks"]
        accuracies = numbers(seen["accuracies"], "accuracies are numbers, one per network")
        expect(len(networks) == accuracies.size == 3 and accuracies.ndim == 1,
               "three networks (seeds 0, 0 and 1), three accuracies")
        expect(all([np.shape(w) for w, _ in net] == [(32, 64), (10, 32)] for net in networks),
               "each network is digits_network(eng, seed=0): 64 inputs, 32 tanh, 10 outputs")
        expect_chapter_data(seen["data"])
        initial = initial_weights()
        expect(not any(np.array_equal(net[0][0], initial[0]) for net in networks),
               "train each network (5 epochs)")
        expect(all(np.array_equal(x, y) for a, b in zip(*networks[:2]) for x, y in zip(a, b)),
               "the first two should be identical")
        expect(not np.array_equal(networks[0][0][0], networks[2][0][0]),
               "the third is the first: train with seed=1")
        other = initial_weights(seed=1)[0]
        third = np.ravel(networks[2][0][0])
        near = [np.corrcoef(third, np.ravel(w))[0, 1] for w in (initial[0], other)]
        expect(near[0] > near[1], "the third starts from other weights: change only train's seed")
        expect(not np.array_equal(networks[0][1][0], networks[2][1][0]),
               "the third network's output layer is the first's: train it with seed=1")
        expect(same_network(networks[0], seed_reference(0)),
               "the first two are not digits_network(eng, seed=0) after 5 epochs of train "
               "(batches of 10, eta 1, seed 0)")
        expect(same_network(networks[2], seed_reference(1)),
               "the third is not digits_network(eng, seed=0) after 5 epochs of train with seed=1")
        expect_shares(accuracies, "the accuracies are not shares of the 450 test digits: "
                                  "accuracy(net, x_test, test_labels)")
        measured = [measured_accuracy(net) for net in networks]
        expect(np.allclose(accuracies, measured, rtol=0, atol=1.5 / TEST_DIGITS),
               "these are not your networks' test accuracies: x_test?")
        expect(abs(accuracies[0] - accuracies[2]) < 0.03, "the third should be within 3 points")


@functools.lru_cache(maxsize=None)
def initial_weights(seed=0):
    """The weights of the untrained digits_network(eng, seed)."""
    eng = nn.native_float()
    with digits_network(eng, seed=seed) as net:
        return [eng.to_numpy(layer.weights) for layer in net.layers]


@functools.lru_cache(maxsize=None)
def width_reference(width):
    """The test accuracy after 30 epochs with ``width`` hidden neurons (0.2 s each)."""
    x_train, y_train, x_test, test_labels = digits_split()
    with digits_network(nn.native_float(), width) as net:
        nn.train(net, x_train, y_train, nn.quadratic_cost, 30, 1.0, batch_size=10)
        return nn.accuracy(net, x_test, test_labels)


def observed_values(seen, keys, what):
    """The answer's dict, checked to have ``keys``, its values as float64 arrays."""
    expect(seen is not None, "replace ... with your answer")
    answer = seen["answer"]
    expect(isinstance(answer, dict), f"the answer is a dict, {what}")
    expect(set(answer) == set(keys), f"one value per key, {', '.join(f'{k:g}' for k in keys)}")
    expect_chapter_data(seen["data"])
    return {float(key): numbers(value, f"the values are numbers: {what}")
            for key, value in answer.items()}


@question("ex-ch11-width")
class Width:
    """The answer is four runs of nnlib's glorot and train. The judge reruns them (1 s, cached),
    and asks each accuracy to be a share of the 450 test digits within 4 digits of its rerun
    (float64 and float32 runs give the same counts)."""

    def observe(widths, x_train, y_train, x_test, test_labels):
        if widths is ...:
            return None
        return {"answer": widths,
                "data": [digest(a) for a in (x_train, y_train, x_test, test_labels)]}

    def judge(seen):
        widths = observed_values(seen, (4, 8, 16, 64), "{width: test accuracy}")
        expect(all(a.shape == () for a in widths.values()),
               "each value is one test accuracy, a number")
        widths = {int(width): float(a) for width, a in widths.items()}
        expect(all(0 <= a <= 1 for a in widths.values()),
               "accuracies are shares from 0 to 1, not percents")
        expect(max(widths.values()) > 0.2, "every width recognizes about one digit in ten, as a "
                                            "network that gives every image the same answer: "
                                            "use glorot")
        expect_shares(widths.values(), "the accuracies are not shares of the 450 test digits: "
                                       "accuracy(net, x_test, test_labels)")
        expect(widths[4] < widths[16], "4 hidden neurons should do worse than 16")
        expect(widths[8] > 0.85 and widths[64] > 0.95, "8 neurons should reach 85 %, 64 reach 95 %")
        expect(widths[16] > 0.9, "16 hidden neurons should come close to the chapter's 32")
        for width, share in sorted(widths.items()):
            expect(abs(share - width_reference(width)) < NEAR,
                   f"the test accuracy with {width} hidden neurons is not that of 30 epochs of "
                   "train (batches of 10, eta 1) from glorot(..., seed=0)")


@functools.lru_cache(maxsize=None)
def rate_reference(eta):
    """(the last cost, the test accuracy) of a fresh digits_network after 30 epochs at ``eta``
    (0.2 s each)."""
    x_train, y_train, x_test, test_labels = digits_split()
    with digits_network(nn.native_float()) as net:
        costs = nn.train(net, x_train, y_train, nn.quadratic_cost, 30, eta, batch_size=10)
        return costs[-1], nn.accuracy(net, x_test, test_labels)


@question("ex-ch11-rate")
class Rate:
    """The answer is four runs of nnlib's train. The judge reruns them (1 s, cached): the last
    costs within 10 % (at eta 4, a float64 run ends 4 % below a float32 one), the accuracies
    within 4 test digits; at 16, where the saturated network's answer hangs on rounding, only
    that it fails."""

    def observe(rates, x_train, y_train, x_test, test_labels):
        if rates is ...:
            return None
        return {"answer": rates,
                "data": [digest(a) for a in (x_train, y_train, x_test, test_labels)]}

    def judge(seen):
        rates = observed_values(seen, (0.25, 1.0, 4.0, 16.0), "{eta: (last cost, test accuracy)}")
        expect(all(pair.shape == (2,) for pair in rates.values()),
               "each value is (last cost, test accuracy)")
        good = [rates[eta] for eta in (0.25, 1.0, 4.0)]
        expect(all(cost < share for cost, share in good),
               "each value is (last cost, test accuracy)")
        expect(all(np.isfinite(cost) and cost > 0 for cost, _ in rates.values()),
               "the costs are positive numbers, as train returns them")
        expect(max(share for _, share in good) > 0.2, "every rate recognizes one digit in ten: "
                                                      "start each run from digits_network(eng), "
                                                      "with glorot")
        expect(good[0][0] > good[1][0] > good[2][0], "up to 4, a larger rate should end with a "
                                                     "lower cost: the last epoch's, from a fresh "
                                                     "network?")
        expect_shares([share for _, share in rates.values()],
                      "the accuracies are not shares of the 450 test digits: "
                      "accuracy(net, x_test, test_labels)")
        expect(min(share for _, share in good) > 0.95, "up to 4, each rate should recognize 95 %")
        expect(rates[16.0][1] < 0.2, "at 16 the network should fail (saturate): about one digit "
                                     "in ten")
        expect(rates[16.0][0] > rates[0.25][0], "at 16 the last cost should be above that of 0.25")
        for eta, (cost, share) in sorted(rates.items()):
            reference_cost, reference_share = rate_reference(eta)
            expect(abs(cost / reference_cost - 1) < 0.1,
                   f"eta {eta:g}: that is not the cost of the last of 30 epochs of train "
                   "(batches of 10) from a fresh digits_network(eng)")
            expect(eta == 16.0 or abs(share - reference_share) < NEAR,
                   f"eta {eta:g}: that is not the test accuracy after 30 epochs of train "
                   "(batches of 10) from a fresh digits_network(eng)")
