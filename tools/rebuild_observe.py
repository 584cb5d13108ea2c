"""What the rebuild track's grader observes of a student's package: run in the sandbox, it decides
nothing (``tools/rebuild.py`` runs it, ``tools/rebuild_checks.py`` judges what it reports).

    python -m rebuild_observe < REQUEST     # with the student's nnlib first on the path

The request (JSON on stdin) holds the run's one-time key and, per check, the cases the grader
drew for this run: each a network's widths, activations, float64 weights and biases, and its data.
The observer reads it before the student's package is imported, builds each network with that
package on the float64 NumPy engine, calls the student's functions on it and prints one line,
``KEY JSON``: what they returned and left behind, as plain numbers and lists, or what they raised.
Whatever else the package prints is not read. The grader parses the line and compares the numbers
with its own reference, so a package that prints, raises, patches or exits can only lose points.
"""

import json
import os
import sys


def main():
    request = json.loads(sys.stdin.read())   # before the student's code can read stdin
    key = request["key"]
    try:
        import numpy as np
        import nnlib as nn
    except BaseException as error:   # SystemExit and KeyboardInterrupt too: the record comes back
        _report(key, {"package": _describe(error), "results": []})
        os._exit(0)
    observer = _Observer(np, nn)
    results = [[observer.run(case) for case in cases] for cases in request["checks"]]
    _report(key, {"package": None, "results": results})
    os._exit(0)   # done: the package's threads and exit hooks have nothing left to change


def _describe(error):
    """What was raised, as plain data."""
    try:
        message = str(error)[:2000]
    except BaseException:   # an exception of the package's own whose str() fails in turn
        message = "(its message could not be read)"
    return {"type": type(error).__name__, "message": message,
            "stub": isinstance(error, NotImplementedError)}


def _report(key, record):
    """Print ``KEY JSON`` on a line of its own, straight to file descriptor 1 (a ``sys.stdout``
    the package replaced would not do)."""
    data = f"\n{key} {json.dumps(record)}\n".encode()
    while data:
        data = data[os.write(1, data):]


class _Observer:
    """The observations, one method per kind; each takes one case (plain data) and returns plain
    data. The student's package is ``self.nn``; nothing here compares or judges."""

    def __init__(self, np, nn):
        self.np, self.nn = np, nn

    def run(self, case):
        try:
            self.eng = self.nn.native_double()
            return {"value": getattr(self, case["observe"])(case)}
        except BaseException as error:   # a student's SystemExit is a result like any other
            return {"error": _describe(error)}

    # ---- building blocks ----

    def host(self, matrix):
        """A matrix of the engine as nested lists of floats."""
        return self.np.array(self.eng.to_numpy(matrix), self.np.float64).tolist()

    def plain(self, value):
        return self.np.asarray(value, self.np.float64).tolist()

    def network(self, case):
        """The case's network in the student's package, with the case's weights and biases."""
        nn = self.nn
        net = nn.inference_network(self.eng, case["in_dim"], [
            nn.fully_connected(w, getattr(nn, f))
            for w, f in zip(case["widths"], case["activations"])])
        for layer, (w, b) in zip(net.layers, case["params"]):
            self.eng.transfer(self.np.array(w), layer.weights)
            self.eng.transfer(self.np.array(b), layer.bias)
        return net

    def matrix(self, host):
        return self.eng.matrix(self.np.array(host))

    def parameters(self, net):
        return [[self.host(layer.weights), self.host(layer.bias)] for layer in net.layers]

    # ---- chapter 3 ----

    def inference_layer(self, case):
        from nnlib.layers import FullyConnectedInference

        eng, (w, b), batch = self.eng, case["params"][0], len(case["x"][0])
        layer = FullyConnectedInference(eng, case["in_dim"], case["widths"][0],
                                        getattr(self.nn, case["activations"][0]))
        eng.transfer(self.np.array(w), layer.weights)
        eng.transfer(self.np.array(b), layer.bias)
        ones = eng.fill(eng.zeros((batch,)), 1.0)
        a = eng.zeros((case["widths"][0], batch))
        returned = layer(self.matrix(case["x"]), ones, a)
        return {"a": self.host(a), "returned": self.host(returned)}

    def inference_network(self, case):
        net = self.network(case)
        x = self.matrix(case["x"])
        out = self.eng.zeros((case["widths"][-1], len(case["x"][0]))) if case["give_out"] else None
        returned = net(x, out)
        return {"returned": self.host(returned), "out": None if out is None else self.host(out),
                "x": self.host(x)}

    # ---- chapter 4 ----

    def training_forward(self, case):
        training = self.nn.training_network(self.network(case), self.matrix(case["x"]))
        returned = self.host(training.forward())
        return {"returned": returned, "layers": [self.host(l.output) for l in training.layers]}

    def training_epoch(self, case):
        """One forward pass, the cost's derivative, one backward pass; the parameters after."""
        nn, net = self.nn, self.network(case)
        training = nn.training_network(net, self.matrix(case["x"]))
        output = training.forward()
        nn.quadratic_cost.derivative(self.eng, self.matrix(case["y"]), output)
        training.backward(case["eta"])
        return {"params": self.parameters(net)}

    # ---- chapter 5 ----

    def _two_training_layers(self, case):
        from nnlib.layers import training_layer

        net, eng = self.network(case), self.eng
        ones = eng.fill(eng.zeros((len(case["x"][0]),)), 1.0)
        x = self.matrix(case["x"])
        first = training_layer(net.layers[0], x, ones)
        return net, x, first, training_layer(net.layers[1], first)

    def layer_forward(self, case):
        _, _, first, second = self._two_training_layers(case)
        returned = [self.host(layer.forward()) for layer in (first, second)]
        return {"returned": returned, "outputs": [self.host(l.output) for l in (first, second)]}

    def layer_epoch(self, case):
        """Two training layers, run by hand: forward both, the cost's derivative, backward both.
        The first layer's output after the second layer's backward pass (what it handed back),
        the parameters after, and the input, the training data, after."""
        net, x, first, second = self._two_training_layers(case)
        first.forward()
        output = second.forward()
        self.eng.transfer(self.np.array(self.eng.to_numpy(output)) - self.np.array(case["y"]),
                          output)
        second.backward(case["eta"])
        handed_back = self.host(first.output)
        first.backward(case["eta"])
        return {"handed_back": handed_back, "params": self.parameters(net), "x": self.host(x)}

    # ---- chapter 8 ----

    def sgd(self, case):
        """``sgd`` on the case: what it returned or, where it raised, whether that was
        TrainingDiverged (``diverged``); the parameters after."""
        nn, net = self.nn, self.network(case)
        training = nn.training_network(net, self.matrix(case["x"]))
        y = self.matrix(case["y"])
        if case["schedule"] is not None:
            arguments = ([tuple(pair) for pair in case["schedule"]],)
        else:
            arguments = (case["epochs"], case["eta"])
        try:
            returned = self.plain(nn.sgd(training, y, nn.quadratic_cost, *arguments))
        except nn.TrainingDiverged as error:
            if isinstance(error, NotImplementedError) or type(error).__name__ != (
                    "TrainingDiverged"):
                raise
            return {"diverged": True, "params": None}
        return {"diverged": False, "returned": returned, "params": self.parameters(net)}

    # ---- chapter 9 ----

    def numerical_gradients(self, case):
        from nnlib.gradcheck import numerical_gradients

        got = numerical_gradients(self.network(case), self.np.array(case["x"]),
                                  self.np.array(case["y"]))
        return [[self.plain(d) for d in pair] for pair in got]

    def backprop_gradients(self, case):
        from nnlib.gradcheck import backprop_gradients

        net = self.network(case)
        got = backprop_gradients(net, self.np.array(case["x"]), self.np.array(case["y"]),
                                 case["eta"])
        return {"gradients": [[self.plain(d) for d in pair] for pair in got],
                "params": self.parameters(net)}

    def check_gradients(self, case):
        from nnlib.gradcheck import check_gradients

        def article_sign(training):
            for layer in training.layers:
                layer.bias_sign = -1.0

        report = check_gradients(self.network(case), self.np.array(case["x"]),
                                 self.np.array(case["y"]),
                                 prepare=article_sign if case["article_sign"] else None)
        return [{"layer": int(entry["layer"]), "parameter": str(entry["parameter"]),
                 "relative_error": float(entry["relative_error"]),
                 "cosine": float(entry["cosine"])} for entry in report]


if __name__ == "__main__":
    main()
