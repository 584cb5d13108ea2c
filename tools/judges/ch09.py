"""Chapter 9, the gradient check: step (2) after the update, and the error of the finite
difference against its step."""

import numpy as np

import nnlib as nn
from nnlib.gradcheck import backprop_gradients, numerical_gradients

from . import Wrong, expect, network, question

CHAPTER = "09_gradient_check"

PRIME = {"tanh": lambda a: 1.0 - a * a, "sigmoid": lambda a: a * (1.0 - a)}
APPLY = {"tanh": np.tanh, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}


def random_network(rng, layers):
    """A random network as plain data, drawn as the chapter's ``random_case`` draws it (weights
    N(0, 0.8), biases N(0, 0.5), inputs N(0, 1), targets in (0.1, 0.9)), with random sizes."""
    in_dim, batch = int(rng.integers(2, 5)), int(rng.integers(3, 7))
    widths = [int(w) for w in rng.integers(2, 6, size=layers - 1)] + [int(rng.integers(1, 4))]
    sizes = [in_dim, *widths]
    return {"in_dim": in_dim,
            "activations": [str(f) for f in rng.choice(["tanh", "sigmoid"], size=layers)],
            "weights": [rng.normal(0.0, 0.8, (n_out, n_in))
                        for n_in, n_out in zip(sizes, sizes[1:])],
            "biases": [rng.normal(0.0, 0.5, n_out) for n_out in widths],
            "x": rng.normal(0.0, 1.0, (in_dim, batch)), "y": rng.uniform(0.1, 0.9, (widths[-1],
                                                                                  batch))}


def one_step(case, eta, late=(), bias_sign=1.0):
    """The weights and biases after one epoch of training, in float64 NumPy: chapter 4's
    equations (1) to (4) as ``FullyConnectedTraining.backward`` orders them, except that the
    layers in ``late`` compute step (2), the derivative passed down, with their updated weights
    (the book's ``LateDerivative``)."""
    outputs = [case["x"]]
    for w, b, f in zip(case["weights"], case["biases"], case["activations"]):
        outputs.append(APPLY[f](w @ outputs[-1] - b[:, None]))
    derivative, n = outputs[-1] - case["y"], case["x"].shape[1]
    after = [None] * len(case["weights"])
    for i in reversed(range(len(after))):
        w, b = case["weights"][i], case["biases"][i]
        delta = PRIME[case["activations"][i]](outputs[i + 1]) * derivative   # (1)
        updated = w - eta / n * delta @ outputs[i].T                          # (4)
        after[i] = (updated, b + bias_sign * eta / n * delta.sum(axis=1))     # (3)
        derivative = (updated if i in late else w).T @ delta                  # (2)
    return after


def same(seen, expected):
    """Every layer's weights and bias in ``seen`` match ``expected`` (float64, one step)."""
    return all(np.shape(w) == np.shape(ew) and np.allclose(w, ew, rtol=1e-9, atol=1e-12)
               and np.shape(b) == np.shape(eb) and np.allclose(b, eb, rtol=1e-9, atol=1e-12)
               for (w, b), (ew, eb) in zip(zip(seen["weights"], seen["biases"]), expected))


@question("ex-ch9-order")
class LateDerivative:
    """Not in nnlib: the package's layer computes step (2) before the update, and the answer is
    a variant of it. The observation prepares a fresh float64 training network of a random case
    with the student's ``late_derivative``, trains it one epoch (as ``backprop_gradients`` does)
    and reads the weights, the biases and the training data; the judge steps the same case with
    its own NumPy backward pass. Two and three layers at a large eta, where the mistake is
    largest, and one at a small eta, where it hides."""

    def inputs(rng):
        return {"cases": [random_network(rng, 2), random_network(rng, 3), random_network(rng, 2)],
                "etas": [float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.5, 2.0)),
                         float(rng.uniform(0.005, 0.02))]}

    def observe(late_derivative, cases, etas):
        stepped = []
        for case, eta in zip(cases, etas):
            eng = nn.native_double()
            net = network(eng, case)
            x, y = eng.matrix(case["x"]), eng.matrix(case["y"])
            with net, nn.training_network(net, x) as training:
                late_derivative(training)
                nn.sgd(training, y, nn.quadratic_cost, 1, eta)
                stepped.append({"weights": [eng.to_numpy(l.weights) for l in net.layers],
                                "biases": [eng.to_numpy(l.bias) for l in net.layers],
                                "x": eng.to_numpy(x)})
        return stepped

    def judge(stepped, cases, etas):
        for case, eta, seen in zip(cases, etas, stepped):
            layers = len(case["weights"])
            below = set(range(1, layers))              # the layers that pass a derivative down
            expect(np.array_equal(seen["x"], case["x"]),
                   "the training data must not change during training: the first layer never "
                   "writes step (2) into its input")
            expected = one_step(case, eta, late=below)
            if same(seen, expected):
                continue
            expect(not same(seen, one_step(case, eta)),
                   "every gradient is still right: step (2) must use the updated weights")
            expect(not same(seen, one_step(case, eta, late=below, bias_sign=-1.0)),
                   "the bias moves against its gradient: keep the package's bias step")
            last_w, last_b = seen["weights"][-1], seen["biases"][-1]
            expect(np.allclose(last_w, expected[-1][0], rtol=1e-9, atol=1e-12)
                   and np.allclose(last_b, expected[-1][1], rtol=1e-9, atol=1e-12),
                   "the last layer's own gradients should stay right: move step (2) only")
            if layers > 2:
                expect(not same(seen, one_step(case, eta, late={layers - 1})),
                       "only the last layer computes step (2) after its update: every layer "
                       "must, in a network of three layers")
            for i in range(layers - 1):
                weights_right = np.allclose(seen["weights"][i], expected[i][0], rtol=1e-9,
                                            atol=1e-12)
                bias_right = np.allclose(seen["biases"][i], expected[i][1], rtol=1e-9,
                                         atol=1e-12)
                expect(weights_right == bias_right, f"layer {i}'s weights and bias both receive "
                                                    "the wrong derivative")
                expect(weights_right, f"layer {i}'s step is not the one that step (2) after the "
                                      f"update gives, on a random network of {layers} layers")
            raise Wrong("the weights after one epoch are not those of step (2) after the update")


@question("ex-ch9-step")
class StepError:
    """nnlib has both halves (``nn.gradcheck.numerical_gradients`` and ``backprop_gradients``,
    also in the chapter) and using them is the intended answer; the exercise is the formula and
    the curve. The observation calls ``step_error`` on a fresh random float64 network for the
    steps 1e-1 ... 1e-12; the judge computes the same errors with the package's helpers. Where
    truncation decides the error (h >= 1e-4) they must agree to 1e-6, give or take the rounding
    of the costs; where rounding decides, only within a factor of 30 (another correct way of
    computing the difference rounds differently), and the smallest error must come near 1e-5
    (between 1e-6 and 1e-4 on 300 random networks)."""

    def inputs(rng):
        return {"case": random_network(rng, int(rng.integers(2, 4)))}

    def observe(step_error, case):
        net = network(nn.native_double(), case)
        return [step_error(net, np.array(case["x"]), np.array(case["y"]), 10.0 ** -k)
                for k in range(1, 13)]

    def judge(errors, case):
        steps = 10.0 ** -np.arange(1, 13)
        expect(len(errors) == 12 and all(isinstance(e, (int, float)) and not isinstance(e, bool)
                                         for e in errors), "step_error must return a number")
        errors = np.asarray(errors, dtype=np.float64)
        with network(nn.native_double(), case) as net:
            exact = backprop_gradients(net, case["x"], case["y"])
            numeric = {h: numerical_gradients(net, case["x"], case["y"], h) for h in steps}
        g = exact[0][0]
        rows = {h: numeric[h][0][0] - g for h in steps}
        expected = np.array([np.linalg.norm(rows[h]) / np.linalg.norm(g) for h in steps])
        # where truncation decides (h >= 1e-4) any correct way agrees to about 1e-12 / h: the
        # rounding of two costs of the forward pass, divided by 2 h; below, rounding decides
        coarse, noise = steps >= 1e-4, 1e-12 / steps

        def matches(values):
            return np.all(np.abs(errors - values)[coarse]
                          <= 1e-6 * np.abs(values[coarse]) + noise[coarse])

        absolute = np.array([np.linalg.norm(rows[h]) for h in steps])
        expect(not matches(absolute) or matches(expected),
               "that is the absolute error: divide by |g|")
        by_numeric = np.array([np.linalg.norm(rows[h]) / np.linalg.norm(numeric[h][0][0])
                               for h in steps])
        expect(not matches(by_numeric) or matches(expected),
               "divide by the backward pass's gradient |g|, not by the numerical one")
        expect(not np.allclose(errors, errors[0], rtol=1e-3),
               "the error does not change with h: compute the numerical gradient with step h")
        for which, (layer, parameter) in (("layer 0's bias", (0, 1)), ("layer 1's weights",
                                                                       (1, 0))):
            other = np.array([np.linalg.norm(numeric[h][layer][parameter]
                                             - exact[layer][parameter])
                              / np.linalg.norm(exact[layer][parameter]) for h in steps])
            expect(not matches(other) or matches(expected),
                   f"that is {which}: the exercise asks for layer 0's weights")
        expect(matches(expected), "that is not the relative error of layer 0's numerical weight "
                                  "gradient, on a random network")
        fine = ~coarse
        expect(np.all((errors[fine] > expected[fine] / 30) & (errors[fine] < expected[fine] * 30)),
               "where rounding decides (h below 1e-4) the relative error is far from the "
               "finite difference's, on a random network")
        best = steps[int(np.argmin(errors))]
        expect(1e-7 <= best <= 1e-3, f"the best h should lie near 1e-5, got {best:g}")

