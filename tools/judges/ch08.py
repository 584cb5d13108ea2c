"""Chapter 8, the schedule: two functions of a cost history."""

import functools

import numpy as np

import nnlib as nn

from . import expect, question

CHAPTER = "08_schedule"


@functools.lru_cache(maxsize=None)
def article_history(epochs=11):
    """The article's schedule example in float64, one-epoch entries at eta = 0.05, with the
    package's bias step: the cell of ``article_schedule_run`` (its defaults, ``article_bias=False``)
    on ``nn.native_double()``, as the old hidden test ran it. Below 1e-8 from epoch 8; it falls
    by a factor of 7.78 per epoch over ten epochs."""
    eng, in_dim, batch = nn.native_double(), 20, 4000
    x = eng.zeros((in_dim, batch))
    y = eng.fill(eng.zeros((10, batch)), 0.33)
    with nn.inference_network(eng, in_dim, [nn.fully_connected(50, nn.tanh),
                                            nn.fully_connected(1000, nn.sigmoid),
                                            nn.fully_connected(10, nn.sigmoid)]) as inference:
        with nn.training_network(inference, x) as training:
            return tuple(nn.sgd(training, y, nn.quadratic_cost, [(1, 0.05)] * epochs))


def falling(rng, length):
    """A cost history that falls by a random factor (1.5 to 12) every epoch."""
    return list(rng.uniform(0.5, 5.0) / np.cumprod(np.r_[1.0, rng.uniform(1.5, 12.0, length - 1)]))


def between(history, epoch):
    """A threshold that epoch ``epoch`` (from 1) is the first to fall below, in a falling
    history: halfway, on a log scale, between its cost and the one before."""
    if epoch == 1:
        return 2.0 * history[0]
    return float(np.sqrt(history[epoch - 2] * history[epoch - 1]))


@question("ex-ch8-threshold")
class CostHistory:
    """Neither function is in nnlib. The cases: random falling histories of random lengths,
    thresholds crossed at a random epoch (the first one included), a history that climbs back
    above its threshold after crossing it (the float32 floor of the chapter's curve jitters), and
    the chapter's own run, the article's schedule in float64."""

    def inputs(rng):
        below, falls = [], []
        for _ in range(3):
            history = falling(rng, int(rng.integers(6, 16)))
            epoch = int(rng.integers(2, len(history) + 1))
            below.append((history, between(history, epoch)))
            falls.append((history, int(rng.integers(2, len(history)))))
        history = falling(rng, int(rng.integers(4, 9)))
        below.append((history, between(history, 1)))
        falls.append((history, 1))
        # down to a floor that jitters: above the threshold again after first crossing it
        history = falling(rng, int(rng.integers(6, 10)))
        epoch = int(rng.integers(2, len(history) - 2))
        threshold = between(history, epoch)
        history = history[:epoch] + [threshold * f for f in rng.uniform(0.2, 0.9, 2)] + [
            threshold * rng.uniform(1.2, 2.0)] + [threshold * f for f in rng.uniform(0.2, 0.9, 3)]
        below.append((history, threshold))
        falls.append((history, len(history) - 1))
        article = list(article_history())
        below.append((article, 1e-8))
        falls.append((article, 10))
        return {"below": below, "falls": falls}

    def observe(first_epoch_below, fall_per_epoch, below, falls):
        return {"first": [first_epoch_below(list(history), threshold)
                          for history, threshold in below],
                "factor": [fall_per_epoch(list(history), epochs) for history, epochs in falls]}

    def judge(seen, below, falls):
        for (history, threshold), first in zip(below, seen["first"]):
            expected = next(i for i, cost in enumerate(history, 1) if cost < threshold)
            expect(isinstance(first, (int, float)) and not isinstance(first, bool)
                   and float(first).is_integer(),
                   "first_epoch_below must return an epoch: a whole number")
            first = int(first)
            expect(first != expected - 1, "epochs count from 1: epoch k's cost is history[k - 1]")
            expect(1 <= first <= len(history) and history[first - 1] < threshold,
                   "first_epoch_below returned an epoch whose cost is not below the threshold")
            expect(first == expected, "an earlier epoch's cost is already below the threshold: "
                                      "the answer is the first epoch below it")
        for (history, epochs), factor in zip(falls, seen["factor"]):
            expected = (history[0] / history[epochs]) ** (1 / epochs)
            expect(isinstance(factor, (int, float)) and not isinstance(factor, bool),
                   "fall_per_epoch must return a number")
            if epochs > 1:
                earlier = {(history[0] / history[epochs - 1]) ** (1 / epochs),
                           (history[0] / history[epochs - 1]) ** (1 / (epochs - 1))}
                expect(not any(np.isclose(factor, e, rtol=1e-9) for e in earlier),
                       "`epochs` epochs of steps lead from history[0] to history[epochs]")
            expect(not np.isclose(factor, 1 / expected, rtol=1e-9),
                   "the cost falls, so the factor by which it falls is above 1")
            ratios = [history[i] / history[i + 1] for i in range(epochs)]
            expect(not np.isclose(factor, np.mean(ratios), rtol=1e-9) or epochs == 1,
                   "not the average factor of a steady fall: the one factor that, applied every "
                   "epoch, leads from history[0] to history[epochs]")
            expect(np.isclose(factor, expected, rtol=1e-9, atol=0),
                   "fall_per_epoch is not the average factor per epoch on a random history")
