"""Chapter 3, Inference: a ReLU activation, and the size of the network's two scratch buffers."""

import numpy as np

import nnlib as nn

from . import expect, expect_close, question

CHAPTER = "03_inference"


@question("ex-ch3-relu")
class ReluActivation:
    """nnlib has no ReLU (only sigmoid and tanh), so the answer cannot be borrowed. The student's
    class runs on a random matrix with exact zeros in it, then as the hidden layer of a network
    built with nnlib's own layer and network classes (which call ``apply`` in place, ``a`` being
    ``z``, and pass its return value on to the next layer); the judge computes max(0, z), the
    step, and the network's output in NumPy."""

    def inputs(rng):
        rows, cols = (int(n) for n in rng.integers(2, 7, size=2))
        z = rng.standard_normal((rows, cols)).astype(np.float32)
        z.flat[rng.choice(z.size, 2, replace=False)] = 0.0   # the derivative's one choice
        width = int(rng.integers(2, 6))
        return {"z": z, "hidden": rng.standard_normal((width, rows)).astype(np.float32),
                "hidden_bias": rng.standard_normal(width).astype(np.float32),
                "last": rng.standard_normal((2, width)).astype(np.float32),
                "last_bias": rng.standard_normal(2).astype(np.float32)}

    def observe(ReLU, z, hidden, hidden_bias, last, last_bias):
        eng = nn.native_float()
        relu = ReLU()
        a, slope = eng.zeros(z.shape), eng.zeros(z.shape)
        returned = relu.apply(eng, eng.matrix(z), a)
        relu.prime(eng, a, slope)
        seen = {"a": eng.to_numpy(a), "slope": eng.to_numpy(slope), "returns_a": returned is a}
        # a network of two layers, the first with the student's ReLU: nnlib's classes, built
        # without the blueprints (whose check knows only nnlib's own Activation)
        first = nn.layers.FullyConnectedInference(eng, z.shape[0], hidden.shape[0], relu)
        second = nn.layers.FullyConnectedInference(eng, hidden.shape[0], 2, nn.tanh)
        for layer, weights, bias in ((first, hidden, hidden_bias), (second, last, last_bias)):
            eng.transfer(weights, layer.weights)
            eng.transfer(bias, layer.bias)
        try:
            seen["network"] = eng.to_numpy(nn.network.InferenceNetwork(eng, [first, second])(
                eng.matrix(z)))
        except Exception as error:
            seen["network"] = f"{type(error).__name__}: {error}"
        return seen

    def judge(seen, z, hidden, hidden_bias, last, last_bias):
        relu = np.maximum(z, 0)
        expect_close(seen["a"], relu, "apply must write max(0, z) into a", rtol=0, atol=0)
        slope = np.asarray(seen["slope"])
        expect(slope.shape != z.shape or not (slope[z == 0] != 0).any(),
               "at z = 0 the output a is 0: take the derivative 0 there (a > 0)")
        expect_close(slope, (z > 0).astype(np.float32),
                     "the derivative is a step: 0 where z < 0, 1 where z > 0", rtol=0, atol=0)
        expect(seen["returns_a"], "apply must return a, as sigmoid and tanh do: a layer passes "
                                  "what it returns on to the next layer")
        expect(not isinstance(seen["network"], str),
               f"a network with a ReLU layer failed: {seen['network']}")
        inner = np.maximum(hidden @ z - hidden_bias[:, None], 0)   # a is z itself in a layer
        expect_close(seen["network"], np.tanh(last @ inner - last_bias[:, None]),
                     "a ReLU layer inside a network computes the wrong output (the layer calls "
                     "apply(eng, a, a), with z and a the same matrix)", rtol=1e-4, atol=1e-5)


@question("ex-ch3-buffers")
class ScratchNumbers:
    """A number the exercise asks for, with no inputs. nnlib's InferenceNetwork computes the two
    buffer widths (``max_widths``) and the check reads them, so they are the reference here
    too: sum(max_widths) * batch, for a network built in the judge."""

    def observe(scratch_numbers):
        if scratch_numbers is ...:
            return {"ellipsis": True}
        number = isinstance(scratch_numbers, (int, float, np.integer, np.floating))
        return {"value": scratch_numbers if number else type(scratch_numbers).__name__}

    def judge(seen):
        expect("ellipsis" not in seen, "replace ... with your answer")
        value = seen["value"]
        expect(not isinstance(value, (str, bool)) and value is not None,
               f"scratch_numbers must be a whole number, not {value}")
        expect(value != 350_000, "that is one buffer per layer; the network reuses two")
        expect(value != 360_000, "the last layer writes into the result: it needs no scratch")
        widths = (100, 50, 200, 10)
        with nn.inference_network(nn.native_float(), 8,
                                  [nn.fully_connected(n, nn.sigmoid) for n in widths]) as net:
            expected = sum(net.max_widths) * 1000
        expect(value == expected, "the buffers are too big or too small")
