"""The checks of the rebuild-nnlib track, chapter by chapter: cases, reference and verdicts.

This half runs in the grader (``tools/rebuild.py grade``) and never imports the student's package.
Each check draws its cases fresh for every run, from the grader's seed: random networks (widths
and activations fixed by the check, weights, biases and data random) and what to do with them.
``rebuild_observe.py`` runs the student's package on them in the sandbox and reports plain numbers;
the check compares them here with a plain NumPy float64 reference, and fails by raising
AssertionError with a message that says what is wrong, in the book's terms. So a check never
trusts the code it grades (chapter 5's gradient checks use finite differences of this file's own
cost, not chapter 9's), and the two bugs of the article each fail a check named after what they
break.

    python tools/rebuild_checks.py CHAPTER    # the checks' names
"""

import sys
from dataclasses import dataclass

import numpy as np

CHECKS = {}   # chapter -> [Check]


@dataclass
class Check:
    name: str
    cases: object   # rng -> [Case]: what rebuild_observe runs, drawn fresh for every run
    judge: object   # ([observed value per case], [Case]) -> None; raises AssertionError


def check(chapter, name, cases):
    """Register the decorated function as the judge of a check of ``chapter``, observed on the
    ``cases`` (a function of the run's random generator)."""
    def register(judge):
        CHECKS.setdefault(chapter, []).append(Check(name, cases, judge))
        return judge
    return register


# ---- the float64 reference -----------------------------------------------------------------

ACTIVATIONS = {"tanh": (np.tanh, lambda a: 1 - a * a),
               "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a))}


class Case:
    """A random network and its data, drawn from ``rng``, and the observation to make of it
    (a method of rebuild_observe's observer) with its ``options``. ``params`` are the weights
    and biases, ``x`` the input (one example per column), ``y`` the targets."""

    def __init__(self, rng, observe, widths=(4, 3, 2), activations=("tanh", "tanh", "sigmoid"),
                 in_dim=3, batch=5, **options):
        self.observe, self.widths, self.activations = observe, widths, activations
        self.in_dim, self.options = in_dim, options
        sizes = (in_dim, *widths)
        self.params = [(rng.normal(0, 0.8, (out, inp)), rng.normal(0, 0.5, out))
                       for inp, out in zip(sizes, widths)]
        self.x = rng.normal(0, 1, (in_dim, batch))
        self.y = rng.uniform(0.1, 0.9, (widths[-1], batch))

    def plain(self):
        """The case as the observer reads it: JSON-ready numbers and lists."""
        return {"observe": self.observe, "widths": list(self.widths),
                "activations": list(self.activations), "in_dim": self.in_dim,
                "params": [[w.tolist(), b.tolist()] for w, b in self.params],
                "x": self.x.tolist(), "y": self.y.tolist(), **self.options}


def forward(params, activations, x):
    """Every layer's output, the input first."""
    outputs = [x]
    for (w, b), f in zip(params, activations):
        outputs.append(ACTIVATIONS[f][0](w @ outputs[-1] - b[:, None]))
    return outputs


def cost(params, activations, x, y):
    """The training cost ``||a - y||² / (2 batch)`` whose gradient an epoch steps along."""
    return float(((forward(params, activations, x)[-1] - y) ** 2).sum() / (2 * x.shape[1]))


def gradients(params, activations, x, y):
    """``[(dW, db), ...]`` of ``cost`` by backpropagation (the bias enters as ``- b``)."""
    outputs, batch = forward(params, activations, x), x.shape[1]
    delta = (outputs[-1] - y) * ACTIVATIONS[activations[-1]][1](outputs[-1])
    result = []
    for i in reversed(range(len(params))):
        result.append((delta @ outputs[i].T / batch, -delta.sum(axis=1) / batch))
        if i:
            delta = (params[i][0].T @ delta) * ACTIVATIONS[activations[i - 1]][1](outputs[i])
    return result[::-1]


def finite_differences(params, activations, x, y, h=1e-6):
    """``[(dW, db), ...]`` of ``cost`` by central differences."""
    params = [(w.copy(), b.copy()) for w, b in params]
    result = []
    for w, b in params:
        pair = []
        for parameter in (w, b):
            gradient = np.zeros_like(parameter)
            for index in np.ndindex(parameter.shape):
                saved = parameter[index]
                parameter[index] = saved + h
                up = cost(params, activations, x, y)
                parameter[index] = saved - h
                gradient[index] = (up - cost(params, activations, x, y)) / (2 * h)
                parameter[index] = saved
            pair.append(gradient)
        result.append(tuple(pair))
    return result


def epochs(params, activations, x, y, n, eta):
    """The parameters after ``n`` gradient steps, and the cost ``sgd`` reports (the last forward
    pass's ``||a - y||² / (2 size)``)."""
    params = [(w.copy(), b.copy()) for w, b in params]
    for _ in range(n):
        reported = float(((forward(params, activations, x)[-1] - y) ** 2).sum() / (2 * y.size))
        steps = gradients(params, activations, x, y)
        params = [(w - eta * dw, b - eta * db) for (w, b), (dw, db) in zip(params, steps)]
    return params, reported


def close(got, expected, what, tolerance=1e-9):
    """Fail with the largest difference unless ``got`` matches ``expected``."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if got.shape != expected.shape:
        raise AssertionError(f"{what} has shape {got.shape}, expected {expected.shape}")
    error = np.abs(got - expected).max() / max(1.0, np.abs(expected).max())
    if not error <= tolerance:
        raise AssertionError(f"{what} is off by {error:.3g} (relative)")


def compare_gradient(claimed, numeric, what):
    """The gradient check: ``claimed`` must equal ``numeric`` in size and direction."""
    claimed = np.asarray(claimed, np.float64)
    if claimed.shape != numeric.shape:
        raise AssertionError(f"{what} has shape {claimed.shape}, expected {numeric.shape}")
    norm = np.linalg.norm(numeric)
    cosine = np.vdot(claimed, numeric) / (np.linalg.norm(claimed) * norm or 1.0)
    error = np.linalg.norm(claimed - numeric) / norm
    if cosine < -0.99:
        raise AssertionError(f"{what} moved along its gradient, not against it (cosine "
                             f"{cosine:.3f}): the sign of its step is wrong")
    if not error < 1e-6:
        raise AssertionError(f"{what}: relative error {error:.3g} against finite differences "
                             f"(cosine {cosine:.3f})")


def layers(got, want, what="layers of parameters"):
    """``got`` (per layer) has as many entries as ``want``."""
    if len(got) != len(want):
        raise AssertionError(f"{len(got)} {what}, expected {len(want)}")
    return zip(got, want)


# ---- chapter 3: the inference layer and network ---------------------------------------------

def _judge_layer(observed, case):
    expected = forward(case.params, case.activations, case.x)[-1]
    close(observed["a"], expected, "the output matrix a")
    close(observed["returned"], expected, "the returned matrix")


@check(3, "the layer writes tanh(weights @ x - bias) into its output",
       lambda rng: [Case(rng, "inference_layer", (4,), ("tanh",), batch=5)])
def _tanh_layer(observed, cases):
    _judge_layer(observed[0], cases[0])


@check(3, "the layer subtracts the bias from every column (sigmoid, batch of 7)",
       lambda rng: [Case(rng, "inference_layer", (4,), ("sigmoid",), batch=7)])
def _sigmoid_layer(observed, cases):
    _judge_layer(observed[0], cases[0])


def _judge_network(observed, case):
    expected = forward(case.params, case.activations, case.x)[-1]
    close(observed["returned"], expected, "the network's output")
    if case.options["give_out"]:
        close(observed["out"], expected, "the matrix passed as out")
    close(observed["x"], case.x, "the input x (the network must not change it)", 0)


@check(3, "the network applies its layers in order, each to the previous layer's output",
       lambda rng: [Case(rng, "inference_network", give_out=False)])
def _network_three_layers(observed, cases):
    _judge_network(observed[0], cases[0])


@check(3, "the network fills the output matrix it is given",
       lambda rng: [Case(rng, "inference_network", (4, 2), ("tanh", "sigmoid"), give_out=True)])
def _network_fills_out(observed, cases):
    _judge_network(observed[0], cases[0])


@check(3, "the network works with one layer and with five",
       lambda rng: [Case(rng, "inference_network", (2,), ("sigmoid",), give_out=False),
                    Case(rng, "inference_network", (5, 4, 6, 3, 2),
                         ("tanh", "sigmoid", "tanh", "tanh", "sigmoid"), give_out=True)])
def _network_depths(observed, cases):
    for one, case in zip(observed, cases):
        _judge_network(one, case)


# ---- chapter 4: the training network's passes -----------------------------------------------

@check(4, "forward returns the network's output", lambda rng: [Case(rng, "training_forward")])
def _training_forward(observed, cases):
    case = cases[0]
    close(observed[0]["returned"], forward(case.params, case.activations, case.x)[-1],
          "forward()'s result")


@check(4, "forward runs every layer (each layer's output is its activation)",
       lambda rng: [Case(rng, "training_forward")])
def _training_forward_layers(observed, cases):
    case = cases[0]
    expected = forward(case.params, case.activations, case.x)[1:]
    for i, (got, want) in enumerate(layers(observed[0]["layers"], expected, "layers")):
        close(got, want, f"layer {i}'s output")


def _judge_parameters(params, want, after):
    for i, ((w, b), (w_want, b_want)) in enumerate(layers(params, want)):
        close(w, w_want, f"layer {i}'s weights after {after}")
        close(b, b_want, f"layer {i}'s bias after {after}")


@check(4, "backward updates every layer by one gradient step, from the last layer to the first",
       lambda rng: [Case(rng, "training_epoch", eta=0.5)])
def _training_backward(observed, cases):
    case = cases[0]
    want, _ = epochs(case.params, case.activations, case.x, case.y, 1, case.options["eta"])
    _judge_parameters(observed[0]["params"], want, "one epoch")


# ---- chapter 5: the training layer ----------------------------------------------------------

def _two_layers(observe):
    """The cases of a check on two training layers, run by hand (rebuild_observe's layer_epoch:
    forward both, the cost's derivative, backward both)."""
    return lambda rng: [Case(rng, observe, (4, 2), ("tanh", "sigmoid"), eta=0.5)]


@check(5, "forward computes output = σ(W input - b) in every layer", _two_layers("layer_forward"))
def _layer_forward(observed, cases):
    case = cases[0]
    expected = forward(case.params, case.activations, case.x)
    for i in range(2):
        close(observed[0]["outputs"][i], expected[i + 1], f"layer {i}'s output")
        close(observed[0]["returned"][i], expected[i + 1], f"what layer {i}'s forward() returns")


@check(5, "backward hands the previous layer Wᵀ δ, written into its input",
       _two_layers("layer_epoch"))
def _layer_hands_back(observed, cases):
    case = cases[0]
    outputs = forward(case.params, case.activations, case.x)
    delta = (outputs[-1] - case.y) * ACTIVATIONS["sigmoid"][1](outputs[-1])
    close(observed[0]["handed_back"], case.params[1][0].T @ delta,
          "the first layer's output after backward")


def _judge_step(observed, case, which):
    """The step each layer's weights (0) or bias (1) took, against finite differences."""
    numeric = finite_differences(case.params, case.activations, case.x, case.y)
    eta = case.options["eta"]
    for i, ((after, start), grad) in enumerate(zip(layers(observed["params"], case.params),
                                                   numeric)):
        step = (start[which] - np.asarray(after[which], np.float64)) / eta
        compare_gradient(step, grad[which], f"layer {i}'s {('weights', 'bias')[which]}")


@check(5, "the weights move against their gradient (gradient check on the weights)",
       _two_layers("layer_epoch"))
def _layer_weights_gradient(observed, cases):
    _judge_step(observed[0], cases[0], 0)


@check(5, "the bias moves against its gradient (gradient check on the bias)",
       _two_layers("layer_epoch"))
def _layer_bias_gradient(observed, cases):
    _judge_step(observed[0], cases[0], 1)


@check(5, "the training data must not change during training", _two_layers("layer_epoch"))
def _layer_keeps_data(observed, cases):
    if not np.array_equal(np.asarray(observed[0]["x"], np.float64), cases[0].x):
        raise AssertionError("the first layer wrote into its input, the training data: only the "
                             "layers after the first may write Wᵀ δ into their input")


# ---- chapter 8: sgd's epoch loop ------------------------------------------------------------

def _sgd(epochs=None, eta=None, schedule=None):
    return lambda rng: [Case(rng, "sgd", epochs=epochs, eta=eta, schedule=schedule)]


def _returned(observed):
    """What sgd returned, failing where it raised TrainingDiverged on a run that does not."""
    if observed["diverged"]:
        raise AssertionError("sgd raised TrainingDiverged, but the cost stayed finite")
    return observed["returned"]


@check(8, "sgd returns the cost of the last forward pass", _sgd(3, 0.5))
def _sgd_cost(observed, cases):
    case = cases[0]
    _, want = epochs(case.params, case.activations, case.x, case.y, 3, 0.5)
    close(_returned(observed[0]), want, "the returned cost")


@check(8, "sgd runs exactly the epochs it is asked for", _sgd(4, 0.5))
def _sgd_epochs(observed, cases):
    case = cases[0]
    _returned(observed[0])
    want, _ = epochs(case.params, case.activations, case.x, case.y, 4, 0.5)
    _judge_parameters(observed[0]["params"], want, "4 epochs")


@check(8, "a schedule runs each (epochs, eta) pair in turn and returns their costs",
       _sgd(schedule=[[2, 0.5], [3, 0.1]]))
def _sgd_schedule(observed, cases):
    case = cases[0]
    costs = _returned(observed[0])
    params, first = epochs(case.params, case.activations, case.x, case.y, 2, 0.5)
    params, second = epochs(params, case.activations, case.x, case.y, 3, 0.1)
    close(costs, [first, second], "the list of costs")
    for i, ((w, _), (w_want, _)) in enumerate(layers(observed[0]["params"], params)):
        close(w, w_want, f"layer {i}'s weights after the schedule")


def _overflowing(rng):
    case = Case(rng, "sgd", epochs=2, eta=0.5, schedule=None)
    case.y = np.full(case.y.shape, 1e200)
    return [case]


@check(8, "sgd raises TrainingDiverged when the cost is no longer a finite number", _overflowing)
def _sgd_diverges(observed, cases):
    if not observed[0]["diverged"]:
        raise AssertionError("the cost overflowed to infinity, and sgd returned it")


# ---- chapter 9: the gradient check ----------------------------------------------------------

@check(9, "numerical_gradients matches central differences of the training cost",
       lambda rng: [Case(rng, "numerical_gradients")])
def _numerical(observed, cases):
    case = cases[0]
    want = gradients(case.params, case.activations, case.x, case.y)
    for i, (pair, pair_want) in enumerate(layers(observed[0], want, "layers of gradients")):
        close(pair[0], pair_want[0], f"layer {i}'s weight gradient", 1e-7)
        close(pair[1], pair_want[1], f"layer {i}'s bias gradient", 1e-7)


@check(9, "backprop_gradients returns the gradient one epoch steps along, network unchanged",
       lambda rng: [Case(rng, "backprop_gradients", eta=0.5)])
def _backprop(observed, cases):
    case, got = cases[0], observed[0]
    want = gradients(case.params, case.activations, case.x, case.y)
    for i, (pair, pair_want) in enumerate(layers(got["gradients"], want, "layers of gradients")):
        close(pair[0], pair_want[0], f"layer {i}'s weight gradient")
        close(pair[1], pair_want[1], f"layer {i}'s bias gradient")
    for i, ((w, b), (w0, b0)) in enumerate(layers(got["params"], case.params)):
        close(w, w0, f"layer {i}'s weights afterwards (they must be restored)", 0)
        close(b, b0, f"layer {i}'s bias afterwards (it must be restored)", 0)


@check(9, "check_gradients reports every layer and parameter, with tiny errors when all is right",
       lambda rng: [Case(rng, "check_gradients", article_sign=False)])
def _check_right(observed, cases):
    report = observed[0]
    places = [(r["layer"], r["parameter"]) for r in report]
    want = [(i, p) for i in range(3) for p in ("weights", "bias")]
    if places != want:
        raise AssertionError(f"the report covers {places}, expected {want}")
    for entry in report:
        if not (entry["relative_error"] < 1e-6 and entry["cosine"] > 1 - 1e-9):
            raise AssertionError(f"a correct network reported {entry}")


@check(9, "check_gradients catches the article's bias sign (cosine -1 on the bias)",
       lambda rng: [Case(rng, "check_gradients", article_sign=True)])
def _check_bias_sign(observed, cases):
    report = observed[0]
    if not report:
        raise AssertionError("the report is empty")
    for entry in report:
        want = -1 if entry["parameter"] == "bias" else 1
        if not abs(entry["cosine"] - want) < 1e-6:
            raise AssertionError(f"expected cosine {want}, got {entry}")


def names(chapter):
    """The names of the checks of ``chapter``, in order."""
    return [entry.name for entry in CHECKS[chapter]]


if __name__ == "__main__":
    print("\n".join(names(int(sys.argv[-1]))))
