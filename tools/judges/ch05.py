"""Chapter 5, SGD: the cost after training the article's network at a given learning rate."""

from functools import lru_cache

import numpy as np

import nnlib as nn

from . import expect, question
from .ch04 import ARTICLE, article_network

CHAPTER = "05_sgd"


@lru_cache(maxsize=4096)
def cost(eta, epochs, bias_sign=1.0, first=True):
    """The cost after ``epochs`` epochs of nn.sgd at ``eta`` on the article's example, with the
    package's layer; ``bias_sign=-1`` is the article's bias step, ``first=False`` the draft that
    overwrites the input."""
    eng = nn.native_float()
    x, y = eng.matrix([[0.3, 0.3], [0.9, 0.9]]), eng.matrix([[0.5, 0.5]])
    with article_network(eng, *ARTICLE) as net, nn.training_network(net, x) as training:
        for layer in training.layers:
            layer.bias_sign = bias_sign
        training.layers[0].first = first
        return nn.sgd(training, y, nn.quadratic_cost, epochs, eta)


def same(got, expected):
    return bool(np.isclose(got, expected, rtol=1e-4, atol=0))


@question("ex-ch5-eta")
class CostAfter:
    """nnlib has no cost_after, but it is made of nnlib's parts (training_network, sgd), which
    the exercise asks for; the reference is nn.sgd on a fresh article network. Random rates and
    numbers of epochs (kept where float32 is still far from its rounding floor) catch an answer
    fitted to the check's 0.05 and 200 epochs, or one that ignores ``epochs``."""

    def inputs(rng):
        cases = []
        for low, high in ((0.05, 0.3), (0.3, 0.6)):
            eta = round(float(rng.uniform(low, high)), 3)
            cases.append([eta, int(rng.integers(2, min(40, 8 / eta)))])
        # one epoch, at a rate where 200 epochs stay far above the rounding floor (> 1e-7)
        cases.append([round(float(rng.uniform(0.05, 0.08)), 3), 1])
        return {"cases": cases}

    def observe(cost_after, cases):
        return {"default": [cost_after(0.05), cost_after(0.05)],
                "cases": [cost_after(eta, epochs) for eta, epochs in cases],
                "again": cost_after(*cases[0])}

    def judge(seen, cases):
        costs = seen["default"] + seen["cases"] + [seen["again"]]
        expect(all(c is not None for c in costs), "cost_after must return the cost that sgd "
                                                  "returns")
        expect(all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in costs),
               "cost_after must return the cost, a number")
        low, again = seen["default"]
        expect(again == low and seen["again"] == seen["cases"][0],
               "every call must train a fresh network")
        expect(not same(low, cost(0.05, 1)), "that is the untrained network's cost: run the "
                                             "epochs")
        runs = [((0.05, 200), low)] + [(tuple(case), got) for case, got in zip(cases,
                                                                               seen["cases"])]
        for (eta, epochs), got in runs:
            if epochs > 1:   # one epoch is the untrained cost, whatever the layer
                expect(not same(got, cost(eta, epochs, -1.0)),
                       "that is the article's bias step: use the package's layer")
                expect(not any(same(got, cost(eta, epochs, sign, False)) for sign in (1.0, -1.0)),
                       "the first layer overwrote the input: use nn.training_network")
        for (eta, epochs), got in runs[1:]:
            always = cost(eta, 200)   # when far from float32's rounding floor
            expect(same(got, cost(eta, epochs)) or always < 1e-9 or not same(got, always),
                   "cost_after(eta, epochs) must train for epochs epochs, not always 200")
        (eta, _), once = runs[-1]
        expect(same(once, cost(eta, 1)), "every call must train a fresh network: after one "
                                         "epoch the cost is the untrained network's")
        expect(same(low, cost(0.05, 200)), f"200 epochs at 0.05 should give about 7.22e-06, got "
                                           f"{low:.3g}")
        for (eta, epochs), got in runs[1:]:
            expect(same(got, cost(eta, epochs)), "the cost is wrong for a random learning rate "
                                                 "and number of epochs")
