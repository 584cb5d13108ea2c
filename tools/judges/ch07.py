"""Chapter 7, synchronization: which calls wait, waiting every few epochs, and a bisection."""

import numpy as np

import nnlib as nn

from . import expect, expect_close, network, question

CHAPTER = "07_synchronization"

CALLS = {"gemm", "fill", "nrm2", "to_numpy", "synchronize"}   # the five calls the cell times


@question("ex-ch7-waits")
class WaitingCalls:
    """A prediction, a constant: nothing in nnlib to use. The observation reads the set's type and
    its members as they are (strings or not), so that a list, a string or ``...`` is told apart
    from a set of names."""

    def observe(waiting_calls):
        collection = isinstance(waiting_calls, (set, frozenset, list, tuple))
        return {"type": type(waiting_calls).__name__,
                "members": [m if isinstance(m, str) else repr(m) for m in waiting_calls]
                if collection else [],
                "strings": [isinstance(m, str) for m in waiting_calls] if collection else []}

    def judge(seen):
        expect(seen["type"] != "ellipsis", "replace ... with your prediction: a set of call names")
        expect(seen["type"] in ("set", "frozenset"), "a set of names, such as {'gemm', 'fill'}")
        expect(all(seen["strings"]), "a set of the names themselves, as strings, such as "
                                     "{'gemm', 'fill'}")
        names = set(seen["members"])
        unknown = sorted(names - CALLS)
        expect(not unknown, f"not among the five calls: {unknown}")
        queue_only = sorted({"gemm", "fill"} & names)
        expect(not queue_only, f"{' and '.join(queue_only)}: only queue a command, and return at "
                               "once")
        hand_back = sorted({"nrm2", "to_numpy"} - names)
        expect(not hand_back, f"{' and '.join(hand_back)}: a result handed back to Python, which "
                              "cannot happen before it is computed")
        expect("synchronize" in names, "synchronize exists to wait: it is OpenCL's finish")


def random_network(rng):
    """A small random network and its data, as plain arrays: the section's ``small_network``
    shrunk (its 64 x 1000 batch trains too slowly to run five times in an observation)."""
    in_dim, batch = int(rng.integers(2, 7)), int(rng.integers(3, 12))
    widths = [int(w) for w in rng.integers(2, 9, size=int(rng.integers(1, 3)))]
    widths.append(int(rng.integers(1, 4)))
    activations = [str(a) for a in rng.choice(["tanh", "sigmoid"], size=len(widths))]
    sizes = [in_dim, *widths]
    return {"in_dim": in_dim, "activations": activations,
            "weights": [rng.normal(0.0, 0.8, (n_out, n_in)) for n_in, n_out in zip(sizes,
                                                                                sizes[1:])],
            "biases": [rng.normal(0.0, 0.5, n_out) for n_out in widths],
            "x": rng.uniform(-1.0, 1.0, (in_dim, batch)), "y": rng.uniform(0.1, 0.9,
                                                                           (widths[-1], batch))}


def trained_by_sgd(case, epochs, eta):
    """nn.sgd's cost and weights after ``epochs`` epochs on ``case``, on the float64 engine."""
    eng = nn.native_double()
    inference = network(eng, case)
    with inference, nn.training_network(inference, eng.matrix(case["x"])) as training:
        cost = nn.sgd(training, eng.matrix(case["y"]), nn.quadratic_cost, epochs, eta)
        return cost, [eng.to_numpy(layer.weights) for layer in inference.layers]


@question("ex-ch7-every")
class SgdEvery:
    """Not in nnlib: ``nn.sgd`` has only ``synchronize=True`` (every epoch) or False. The
    observation trains a fresh random network on a fresh float64 engine once per value of
    ``every`` (1, one that divides nothing in particular, exactly ``epochs``, and more than
    ``epochs``: never), counting the calls of that engine's ``synchronize`` as the visible check
    does; the judge trains the same network with ``nn.sgd`` and compares costs and weights."""

    def inputs(rng):
        epochs = int(rng.integers(5, 13))
        everies = [1, int(rng.integers(2, epochs)), epochs, epochs + int(rng.integers(1, 4))]
        return {"case": random_network(rng), "epochs": epochs, "eta": float(rng.uniform(0.2, 1.5)),
                "everies": everies}

    def observe(sgd_every, case, epochs, eta, everies):
        runs = []
        for every in everies:
            eng = nn.native_double()
            inference = network(eng, case)
            waits = []
            eng.synchronize = lambda: waits.append(type(eng).synchronize(eng))   # counts them
            x, y = eng.matrix(case["x"]), eng.matrix(case["y"])
            with nn.training_network(inference, x) as training:
                cost = sgd_every(training, y, nn.quadratic_cost, epochs, eta, every)
            runs.append({"cost": cost, "waits": len(waits),
                         "weights": [eng.to_numpy(layer.weights) for layer in inference.layers]})
        return runs

    def judge(runs, case, epochs, eta, everies):
        cost, weights = trained_by_sgd(case, epochs, eta)
        others = {n: trained_by_sgd(case, n, eta)[0] for n in (epochs - 1, epochs + 1)}
        for every, run in zip(everies, runs):
            got = run["cost"]
            expect(isinstance(got, (int, float)) and not isinstance(got, bool),
                   "sgd_every must return the cost, a number, as nn.sgd does")
            expect(not np.isclose(got, others[epochs + 1], rtol=1e-9, atol=0),
                   "sgd_every returned the cost nn.sgd reports one epoch later: run exactly "
                   "`epochs` epochs and return the cost of the last forward pass")
            expect(not np.isclose(got, others[epochs - 1], rtol=1e-9, atol=0),
                   "sgd_every ran one epoch too few")
            expect(np.isclose(got, cost, rtol=1e-9, atol=1e-15),
                   "sgd_every does not end with nn.sgd's cost on a random network")
            for mine, theirs in zip(run["weights"], weights):
                expect_close(mine, theirs, "sgd_every ends with the cost of nn.sgd but other "
                             "weights: train exactly like nn.sgd", rtol=1e-9, atol=1e-12)
        for every, run in zip(everies, runs):
            waits, expected = run["waits"], epochs // every
            from_zero = (epochs - 1) // every + 1      # epochs 0, every, 2 every, ... counted
            if waits == expected:
                continue
            expect(waits != from_zero, f"{waits} waits in {epochs} epochs with every={every}, "
                                       f"not {expected}: is epoch 0 counted? number the epochs "
                                       "from 1")
            expect(waits != epochs, f"{waits} waits in {epochs} epochs with every={every}, not "
                                    f"{expected}: that is every epoch")
            expect(waits != 0, f"no wait in {epochs} epochs with every={every}: wait on the "
                               "network's engine, network.eng")
            expect(False, f"{waits} waits in {epochs} epochs with every={every}, not {expected}: "
                          f"wait once after each of the epochs every, 2 * every, ...")


def sizes_list(rng, count):
    start, spacing = int(rng.integers(16, 600)), int(rng.integers(1, 40))
    return [start + spacing * i for i in range(count)]


@question("ex-ch7-threshold")
class FirstSizeWithTemporaries:
    """Not in nnlib. Made-up step functions (``uses_temporaries`` true from a step on), in lists
    of fresh lengths, starts and spacings, the step at the first size, the last and in between;
    the observation counts the calls, so that a linear search fails on the long lists."""

    def inputs(rng):
        cases = [(sizes_list(rng, 1), 0), (sizes_list(rng, 2), int(rng.integers(0, 2)))]
        for count in (int(rng.integers(3, 9)), int(rng.integers(17, 40)),
                      int(rng.integers(60, 150))):
            sizes = sizes_list(rng, count)
            cases += [(sizes, 0), (sizes, count - 1), (sizes, 1),
                      (sizes, int(rng.integers(1, count)))]
        return {"cases": [(sizes, sizes[step]) for sizes, step in cases]}

    def observe(first_size_with_temporaries, cases):
        results = []
        for sizes, step in cases:
            calls = []
            found = first_size_with_temporaries(list(sizes),
                                                lambda n: calls.append(n) or n >= step)
            results.append({"found": found, "calls": len(calls)})
        return results

    def judge(results, cases):
        for (sizes, step), result in zip(cases, results):
            found, calls = result["found"], result["calls"]
            index = sizes.index(step)
            most = int(np.ceil(np.log2(len(sizes)))) + 2
            expect(found != index or found in sizes,
                   "return the size itself, not its position in sizes")
            if index + 1 < len(sizes):
                expect(found != sizes[index + 1], "the search returned the size after the step: "
                                                  "off by one")
            if index > 0:
                expect(found != sizes[index - 1], "the search returned the size before the step, "
                                                  "which does not use temporaries: off by one")
            expect(found == step, "the search did not return the first size of the step, on a "
                                  "made-up uses_temporaries")
            expect(calls <= most, f"{calls} products to search {len(sizes)} sizes: use "
                                  f"bisection, which needs at most {most}")
