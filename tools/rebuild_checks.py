"""The checks of the rebuild-nnlib track, chapter by chapter (run by ``tools/rebuild.py grade``).

    PYTHONPATH=PACKAGE_HOME python tools/rebuild_checks.py CHAPTER   # PASS/FAIL line per check
    python tools/rebuild_checks.py --list CHAPTER                    # the checks' names

Each check compares the student's package with a plain NumPy float64 reference written here, so
a check never trusts the code it grades (chapter 5's gradient checks use finite differences of
this file's own cost, not chapter 9's). The failure messages say what is wrong, in the book's
terms; the two bugs of the article each fail a check named after what they break.
"""

import sys

import numpy as np

CHECKS = {}   # chapter -> [(name, function)]


def check(chapter, name):
    """Register the decorated function as a check of ``chapter``; it fails by raising."""
    def register(function):
        CHECKS.setdefault(chapter, []).append((name, function))
        return function
    return register


# ---- the float64 reference -----------------------------------------------------------------

ACTIVATIONS = {"tanh": (np.tanh, lambda a: 1 - a * a),
               "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a))}


class Case:
    """A random network on the float64 NumPy engine, its data and the same parameters on the host
    (``params``), so the reference and the package start from the same numbers."""

    def __init__(self, widths=(4, 3, 2), activations=("tanh", "tanh", "sigmoid"), in_dim=3,
                 batch=5, seed=0):
        import nnlib as nn

        rng = np.random.default_rng(seed)
        self.nn, self.eng, self.activations = nn, nn.native_double(), activations
        self.net = nn.inference_network(self.eng, in_dim, [
            nn.fully_connected(w, getattr(nn, f)) for w, f in zip(widths, activations)])
        self.params = []
        for layer in self.net.layers:
            w = rng.normal(0, 0.8, layer.weights.shape)
            b = rng.normal(0, 0.5, layer.bias.shape)
            self.eng.transfer(w, layer.weights)
            self.eng.transfer(b, layer.bias)
            self.params.append((w, b))
        self.x = rng.normal(0, 1, (in_dim, batch))
        self.y = rng.uniform(0.1, 0.9, (widths[-1], batch))

    def matrix(self, host):
        return self.eng.matrix(np.array(host))

    def host(self, matrix):
        return np.array(self.eng.to_numpy(matrix), np.float64)

    def parameters(self):
        return [(self.host(l.weights), self.host(l.bias)) for l in self.net.layers]


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
    norm = np.linalg.norm(numeric)
    cosine = np.vdot(claimed, numeric) / (np.linalg.norm(claimed) * norm or 1.0)
    error = np.linalg.norm(claimed - numeric) / norm
    if cosine < -0.99:
        raise AssertionError(f"{what} moved along its gradient, not against it (cosine "
                             f"{cosine:.3f}): the sign of its step is wrong")
    if not error < 1e-6:
        raise AssertionError(f"{what}: relative error {error:.3g} against finite differences "
                             f"(cosine {cosine:.3f})")


# ---- chapter 3: the inference layer and network ---------------------------------------------

def _layer_case(activation, batch):
    from nnlib.layers import FullyConnectedInference

    case = Case(widths=(4,), activations=(activation,), batch=batch)
    eng = case.eng
    layer = FullyConnectedInference(eng, 3, 4, getattr(case.nn, activation))
    eng.transfer(case.params[0][0], layer.weights)
    eng.transfer(case.params[0][1], layer.bias)
    ones = eng.fill(eng.zeros((batch,)), 1.0)
    a = eng.zeros((4, batch))
    returned = layer(case.matrix(case.x), ones, a)
    expected = forward(case.params, case.activations, case.x)[-1]
    close(case.host(a), expected, "the output matrix a")
    close(case.host(returned), expected, "the returned matrix")


@check(3, "the layer writes tanh(weights @ x - bias) into its output")
def _tanh_layer():
    _layer_case("tanh", 5)


@check(3, "the layer subtracts the bias from every column (sigmoid, batch of 7)")
def _sigmoid_layer():
    _layer_case("sigmoid", 7)


def _network_case(widths, activations, give_out):
    case = Case(widths, activations)
    x = case.matrix(case.x)
    out = case.eng.zeros((widths[-1], case.x.shape[1])) if give_out else None
    returned = case.net(x, out)
    expected = forward(case.params, activations, case.x)[-1]
    close(case.host(returned), expected, "the network's output")
    if give_out:
        close(case.host(out), expected, "the matrix passed as out")
    close(case.host(x), case.x, "the input x (the network must not change it)", 0)


@check(3, "the network applies its layers in order, each to the previous layer's output")
def _network_three_layers():
    _network_case((4, 3, 2), ("tanh", "tanh", "sigmoid"), False)


@check(3, "the network fills the output matrix it is given")
def _network_fills_out():
    _network_case((4, 2), ("tanh", "sigmoid"), True)


@check(3, "the network works with one layer and with five")
def _network_depths():
    _network_case((2,), ("sigmoid",), False)
    _network_case((5, 4, 6, 3, 2), ("tanh", "sigmoid", "tanh", "tanh", "sigmoid"), True)


# ---- chapter 4: the training network's passes -----------------------------------------------

def _one_network_epoch(case, eta):
    """One forward and backward pass of the package's training network; its forward output."""
    nn = case.nn
    training = nn.training_network(case.net, case.matrix(case.x))
    output = training.forward()
    computed = case.host(output)
    nn.quadratic_cost.derivative(case.eng, case.matrix(case.y), output)
    training.backward(eta)
    return training, computed


@check(4, "forward returns the network's output")
def _training_forward():
    case = Case()
    _, output = _one_network_epoch(case, 0.5)
    close(output, forward(case.params, case.activations, case.x)[-1], "forward()'s result")


@check(4, "forward runs every layer (each layer's output is its activation)")
def _training_forward_layers():
    case = Case()
    training = case.nn.training_network(case.net, case.matrix(case.x))
    training.forward()
    expected = forward(case.params, case.activations, case.x)[1:]
    for i, (layer, want) in enumerate(zip(training.layers, expected)):
        close(case.host(layer.output), want, f"layer {i}'s output")


@check(4, "backward updates every layer by one gradient step, from the last layer to the first")
def _training_backward():
    case, eta = Case(), 0.5
    _one_network_epoch(case, eta)
    want, _ = epochs(case.params, case.activations, case.x, case.y, 1, eta)
    for i, ((w, b), (w_want, b_want)) in enumerate(zip(case.parameters(), want)):
        close(w, w_want, f"layer {i}'s weights after one epoch")
        close(b, b_want, f"layer {i}'s bias after one epoch")


# ---- chapter 5: the training layer ----------------------------------------------------------

def _layer_epoch(case, eta):
    """Two training layers, run by hand: forward both, the cost's derivative, backward both.
    Returns the first layer's output after the second layer's backward pass."""
    from nnlib.layers import training_layer

    eng = case.eng
    ones = eng.fill(eng.zeros((case.x.shape[1],)), 1.0)
    case.x_matrix = case.matrix(case.x)
    first = training_layer(case.net.layers[0], case.x_matrix, ones)
    second = training_layer(case.net.layers[1], first)
    first.forward()
    output = second.forward()
    eng.transfer(case.host(output) - case.y, output)
    second.backward(eta)
    handed_back = case.host(first.output)
    first.backward(eta)
    return first, second, handed_back


def _two_layers():
    return Case(widths=(4, 2), activations=("tanh", "sigmoid"))


@check(5, "forward computes output = σ(W a⁻¹ - b) in every layer")
def _layer_forward():
    from nnlib.layers import training_layer

    case = _two_layers()
    ones = case.eng.fill(case.eng.zeros((case.x.shape[1],)), 1.0)
    first = training_layer(case.net.layers[0], case.matrix(case.x), ones)
    second = training_layer(case.net.layers[1], first)
    expected = forward(case.params, case.activations, case.x)
    for i, layer in enumerate((first, second)):
        returned = layer.forward()
        close(case.host(layer.output), expected[i + 1], f"layer {i}'s output")
        close(case.host(returned), expected[i + 1], f"what layer {i}'s forward() returns")


@check(5, "backward hands the previous layer ∂C/∂a⁻¹ = Wᵀ δ in its output")
def _layer_hands_back():
    case, eta = _two_layers(), 0.5
    _, _, handed_back = _layer_epoch(case, eta)
    outputs = forward(case.params, case.activations, case.x)
    delta = (outputs[-1] - case.y) * ACTIVATIONS["sigmoid"][1](outputs[-1])
    close(handed_back, case.params[1][0].T @ delta, "the first layer's output after backward")


@check(5, "the weights move against their gradient (gradient check on the weights)")
def _layer_weights_gradient():
    case, eta = _two_layers(), 0.5
    _layer_epoch(case, eta)
    numeric = finite_differences(case.params, case.activations, case.x, case.y)
    for i, ((w, _), (w0, _), (dw, _)) in enumerate(zip(case.parameters(), case.params, numeric)):
        compare_gradient((w0 - w) / eta, dw, f"layer {i}'s weights")


@check(5, "the bias moves against its gradient (gradient check on the bias)")
def _layer_bias_gradient():
    case, eta = _two_layers(), 0.5
    _layer_epoch(case, eta)
    numeric = finite_differences(case.params, case.activations, case.x, case.y)
    for i, ((_, b), (_, b0), (_, db)) in enumerate(zip(case.parameters(), case.params, numeric)):
        compare_gradient((b0 - b) / eta, db, f"layer {i}'s bias")


@check(5, "the training data must not change during training")
def _layer_keeps_data():
    case = _two_layers()
    _layer_epoch(case, 0.5)
    if not np.array_equal(case.host(case.x_matrix), case.x):
        raise AssertionError("the first layer wrote into its input, the training data: only the "
                             "layers after the first may write Wᵀ δ into their input")


# ---- chapter 8: sgd's epoch loop ------------------------------------------------------------

def _sgd(case, epochs_or_schedule, eta=None, y=None):
    nn = case.nn
    training = nn.training_network(case.net, case.matrix(case.x))
    target = case.matrix(case.y if y is None else y)
    return nn.sgd(training, target, nn.quadratic_cost, epochs_or_schedule, eta)


@check(8, "sgd returns the cost of the last forward pass")
def _sgd_cost():
    case = Case()
    reported = _sgd(case, 3, 0.5)
    _, want = epochs(case.params, case.activations, case.x, case.y, 3, 0.5)
    close(reported, want, "the returned cost")


@check(8, "sgd runs exactly the epochs it is asked for")
def _sgd_epochs():
    case = Case()
    _sgd(case, 4, 0.5)
    want, _ = epochs(case.params, case.activations, case.x, case.y, 4, 0.5)
    for i, ((w, b), (w_want, b_want)) in enumerate(zip(case.parameters(), want)):
        close(w, w_want, f"layer {i}'s weights after 4 epochs")
        close(b, b_want, f"layer {i}'s bias after 4 epochs")


@check(8, "a schedule runs each (epochs, eta) pair in turn and returns their costs")
def _sgd_schedule():
    case = Case()
    costs = _sgd(case, [(2, 0.5), (3, 0.1)])
    params, first = epochs(case.params, case.activations, case.x, case.y, 2, 0.5)
    params, second = epochs(params, case.activations, case.x, case.y, 3, 0.1)
    close(costs, [first, second], "the list of costs")
    for i, ((w, _), (w_want, _)) in enumerate(zip(case.parameters(), params)):
        close(w, w_want, f"layer {i}'s weights after the schedule")


@check(8, "sgd raises TrainingDiverged when the cost is no longer a finite number")
def _sgd_diverges():
    case = Case()
    try:
        _sgd(case, 2, 0.5, y=np.full(case.y.shape, 1e200))
    except case.nn.TrainingDiverged:
        return
    raise AssertionError("the cost overflowed to infinity, and sgd returned it")


# ---- chapter 9: the gradient check ----------------------------------------------------------

@check(9, "numerical_gradients matches central differences of the training cost")
def _numerical():
    from nnlib.gradcheck import numerical_gradients

    case = Case()
    got = numerical_gradients(case.net, case.x, case.y)
    want = gradients(case.params, case.activations, case.x, case.y)
    for i, (pair, pair_want) in enumerate(zip(got, want)):
        close(pair[0], pair_want[0], f"layer {i}'s weight gradient", 1e-7)
        close(pair[1], pair_want[1], f"layer {i}'s bias gradient", 1e-7)
    if len(got) != len(want):
        raise AssertionError(f"{len(got)} layers of gradients, expected {len(want)}")


@check(9, "backprop_gradients returns the gradient one epoch steps along, network unchanged")
def _backprop():
    from nnlib.gradcheck import backprop_gradients

    case = Case()
    got = backprop_gradients(case.net, case.x, case.y, 0.5)
    want = gradients(case.params, case.activations, case.x, case.y)
    for i, (pair, pair_want) in enumerate(zip(got, want)):
        close(pair[0], pair_want[0], f"layer {i}'s weight gradient")
        close(pair[1], pair_want[1], f"layer {i}'s bias gradient")
    for i, ((w, b), (w0, b0)) in enumerate(zip(case.parameters(), case.params)):
        close(w, w0, f"layer {i}'s weights afterwards (they must be restored)", 0)
        close(b, b0, f"layer {i}'s bias afterwards (it must be restored)", 0)


@check(9, "check_gradients reports every layer and parameter, with tiny errors when all is right")
def _check_right():
    from nnlib.gradcheck import check_gradients

    case = Case()
    report = check_gradients(case.net, case.x, case.y)
    places = [(r["layer"], r["parameter"]) for r in report]
    want = [(i, p) for i in range(3) for p in ("weights", "bias")]
    if places != want:
        raise AssertionError(f"the report covers {places}, expected {want}")
    for entry in report:
        if not (entry["relative_error"] < 1e-6 and entry["cosine"] > 1 - 1e-9):
            raise AssertionError(f"a correct network reported {entry}")


@check(9, "check_gradients catches the article's bias sign (cosine -1 on the bias)")
def _check_bias_sign():
    from nnlib.gradcheck import check_gradients

    def article_sign(training):
        for layer in training.layers:
            layer.bias_sign = -1.0

    case = Case()
    report = check_gradients(case.net, case.x, case.y, prepare=article_sign)
    for entry in report:
        want = -1 if entry["parameter"] == "bias" else 1
        if not abs(entry["cosine"] - want) < 1e-6:
            raise AssertionError(f"expected cosine {want}, got {entry}")


def run(chapter):
    """Run the checks of ``chapter``; print ``PASS name`` or ``FAIL name: why`` for each."""
    for name, function in CHECKS[chapter]:
        try:
            function()
        except NotImplementedError as stub:
            print(f"FAIL {name}: not written yet ({str(stub)[:60]}...)")
        except AssertionError as wrong:
            print(f"FAIL {name}: {wrong}")
        except Exception as error:   # a student's crash is a failed check, not a crashed grader
            print(f"FAIL {name}: raised {type(error).__name__}: {error}")
        else:
            print(f"PASS {name}")
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1] == "--list":
        print("\n".join(name for name, _ in CHECKS[int(sys.argv[2])]))
    else:
        import os

        import nnlib

        home = os.environ.get("PYTHONPATH", "")
        if not home or not os.path.abspath(nnlib.__file__).startswith(os.path.abspath(home)):
            sys.exit(f"nnlib came from {nnlib.__file__}, not from the package under test ({home})")
        run(int(sys.argv[1]))
