"""The autograder's questions: how each graded exercise is observed, and how it is judged.

A question is graded in two halves that never share a process:

- ``observe`` runs in the student's kernel, inside the sandbox, where the answer was defined. It
  calls the student's names on inputs that the grader draws fresh for every run and hands the
  results back as plain data (numbers, strings, arrays, lists, dicts, sets); it decides nothing.
- ``judge`` runs in the grader, which never imports the student's code. It compares those plain
  results with its own reference, computed here with the book's nnlib and NumPy, and raises
  :class:`Wrong` with a message for the student when the answer is wrong.

So nothing the notebook prints, raises, hides or patches decides a score: an object whose
``__eq__`` lies never reaches a comparison (only plain data crosses), and an answer written to
pass the chapter's visible check fails on the fresh inputs. A question is a class in the module
of its chapter (``ch02.py`` for ``02_engines.ipynb``)::

    @question("ex-ch2-gemv")
    class RowSums:
        def inputs(rng):                  # fresh for every run: plain data and arrays
            return {"host": rng.standard_normal((4, 7))}

        def observe(row_sums, host):      # in the kernel: row_sums is the student's
            eng = nn.native_float()
            return eng.to_numpy(row_sums(eng, eng.matrix(host)))

        def judge(sums, host):            # in the grader: sums is plain data
            expect_close(sums, host.sum(axis=1), "the row sums are wrong")

``observe``'s parameters that are not inputs name what the student defines; it is sent to the
kernel as source, with ``np`` and ``nn`` (numpy and nnlib), :func:`network` and :func:`digest` in
its globals, so it must not use anything else from this file. ``inputs`` is optional.
"""

import importlib
import inspect
import json
import pkgutil
import textwrap
from dataclasses import dataclass

import numpy as np

import nnlib as nn

QUESTIONS = {}    # label -> Question, every chapter's, once load() has run
RECORD = "nnlib-observation"   # the prefix of the line an observation prints


class Wrong(Exception):
    """The answer is wrong; the message says how, in the book's terms, without giving away the
    answer or the hidden inputs."""


def expect(condition, message):
    if not condition:
        raise Wrong(message)


def expect_close(got, expected, message, rtol=1e-5, atol=1e-6):
    """``got`` (plain data from the kernel) has ``expected``'s shape and values."""
    got = numbers(got, message)
    expected = np.asarray(expected, dtype=np.float64)
    expect(got.shape == expected.shape, f"{message}: the shape is {got.shape}, not "
                                        f"{expected.shape}")
    expect(np.allclose(got, expected, rtol=rtol, atol=atol), message)


def network(eng, case):
    """``case`` (plain data: ``in_dim``, and for each layer its ``activations`` name, ``weights``
    and ``biases``) as an inference network of ``eng``. Judges build their references with it,
    and observations the networks they hand the student's code: it goes into the kernel too."""
    net = nn.inference_network(eng, case["in_dim"], [
        nn.fully_connected(len(bias), getattr(nn, name))
        for name, bias in zip(case["activations"], case["biases"])])
    for layer, weights, bias in zip(net.layers, case["weights"], case["biases"]):
        eng.transfer(weights, layer.weights)
        eng.transfer(bias, layer.bias)
    return net


def digest(array):
    """A data set as observations report it: its shape and a hash of its float64 bytes, so that
    a judge can tell whether the student trained on the chapter's data. It goes into the kernel
    too."""
    import hashlib

    array = np.ascontiguousarray(array, dtype=np.float64)
    return [list(array.shape), hashlib.sha256(array.tobytes()).hexdigest()]


KERNEL_HELPERS = (network, digest)   # what observe() may call besides np and nn


def numbers(value, message):
    """``value`` (plain data from the kernel) as a float64 array, or Wrong(``message``)."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(message) from None


@dataclass
class Question:
    label: str                  # the exercise's label, as in the notebook's cell metadata
    chapter: str                # the notebook's stem, e.g. "02_engines"
    observe: object             # the function run in the kernel
    judge: object               # the function run here
    inputs: object = None       # rng -> {name: value}, or None
    points: int = 1

    def observe_source(self):
        """``observe``'s source as a top-level function named ``observe``, after those of the
        KERNEL_HELPERS, which it may use."""
        source = textwrap.dedent(inspect.getsource(self.observe))
        helpers = "\n\n".join(inspect.getsource(helper) for helper in KERNEL_HELPERS)
        return helpers + "\n\n" + source.replace(f"def {self.observe.__name__}(", "def observe(", 1)

    def draw(self, rng):
        """This run's inputs, and the names the observation reads from the student's kernel."""
        inputs = self.inputs(rng) if self.inputs else {}
        student = [n for n in inspect.signature(self.observe).parameters if n not in inputs]
        return inputs, student


def question(label, points=1):
    """Register the decorated class as the question ``label`` of its module's chapter."""
    def register(cls):
        chapter = importlib.import_module(cls.__module__).CHAPTER
        QUESTIONS[label] = Question(label, chapter, cls.__dict__["observe"],
                                    cls.__dict__["judge"], cls.__dict__.get("inputs"), points)
        return cls
    return register


def load():
    """Import every chapter's module; return {chapter stem: [Question, ...]} in notebook order."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    chapters = {}
    for entry in QUESTIONS.values():
        chapters.setdefault(entry.chapter, []).append(entry)
    return chapters


# ---- plain data across the boundary ---------------------------------------------------------
# Arrays travel as {"array": nested lists, "dtype": ...}, sets as {"set": [...]}, dicts whose
# keys are not all strings as {"pairs": [[key, value], ...]}: JSON alone would lose them.

def encode(value, depth=0):
    """``value`` (built by the grader: inputs) as JSON-ready plain data."""
    if depth > 20:
        raise ValueError("nested too deeply")
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"set": [encode(v, depth + 1) for v in sorted(value)]}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"dict": {k: encode(v, depth + 1) for k, v in value.items()}}
        return {"pairs": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot send {type(value).__name__}")


_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64"}


def decode(value, depth=0):
    """Plain data from the kernel (untrusted) back into Python values: arrays, sets, dicts,
    tuples as lists. Raises ValueError on anything malformed."""
    if depth > 20:
        raise ValueError("nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [decode(v, depth + 1) for v in value]
    if not isinstance(value, dict) or len(value) not in (1, 2):
        raise ValueError("not plain data")
    if "array" in value:
        dtype = value.get("dtype", "float64")
        if dtype not in _DTYPES or set(value) != {"array", "dtype"}:
            raise ValueError(f"an array of {dtype!r}")
        array = np.array(value["array"], dtype=dtype)
        if array.dtype == object:
            raise ValueError("a ragged array")
        return array
    kind, = value
    if kind == "set":
        return {_hashable(decode(v, depth + 1)) for v in value["set"]}
    if kind == "dict":
        return {str(k): decode(v, depth + 1) for k, v in value["dict"].items()}
    if kind == "pairs":
        return {_hashable(decode(k, depth + 1)): decode(v, depth + 1) for k, v in value["pairs"]}
    raise ValueError(f"unknown plain data {kind!r}")


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, (dict, set, np.ndarray)):
        raise ValueError("a set member or key that is not a number, string or tuple")
    return value


# ---- the observation cell -------------------------------------------------------------------
# The harness below is the whole of what the grader runs in the kernel besides the question's
# own ``observe``. It converts the results to plain data itself (an object's own __eq__,
# __repr__ or __float__ never decides what crosses), and prints one line: RECORD, the
# observation's one-time key, the JSON. Whatever else the cell prints is ignored.

_HARNESS = '''\
def _nnlib_observe(user, key, source, student, inputs):
    import json
    import numpy as np
    import nnlib as nn

    def decode(value):
        if isinstance(value, list):
            return [decode(v) for v in value]
        if isinstance(value, dict) and "array" in value:
            return np.array(value["array"], dtype=value["dtype"])
        if isinstance(value, dict) and "set" in value:
            return {decode(v) for v in value["set"]}
        if isinstance(value, dict) and "dict" in value:
            return {k: decode(v) for k, v in value["dict"].items()}
        if isinstance(value, dict):
            return {decode(k) if not isinstance(k, list) else tuple(k): decode(v)
                    for k, v in value["pairs"]}
        return value

    def plain(value, depth=0):
        if depth > 20:
            raise ValueError("nested too deeply")
        if value is None or type(value) in (bool, str):
            return value
        if isinstance(value, bool) or isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            return float(value)
        if isinstance(value, str):
            return str(value)
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biuf":
                raise TypeError(f"an array of {value.dtype}")
            array = np.asarray(value, dtype=np.float64 if value.dtype.kind == "f" else None)
            return {"array": array.tolist(), "dtype": str(array.dtype)}
        if isinstance(value, (list, tuple)):
            return [plain(v, depth + 1) for v in value]
        if isinstance(value, (set, frozenset)):
            return {"set": [plain(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"pairs": [[plain(k, depth + 1), plain(v, depth + 1)]
                              for k, v in value.items()]}
        raise TypeError(f"{type(value).__name__} is not plain data")

    missing = [name for name in student if name not in user]
    if missing:
        record = {"missing": missing}
    else:
        namespace = {"np": np, "nn": nn}
        exec(source, namespace)
        try:
            arguments = {name: decode(value) for name, value in inputs.items()}
            answer = namespace["observe"](**{n: user[n] for n in student}, **arguments)
            record = {"value": plain(answer)}
        except KeyboardInterrupt:
            record = {"error": "timed out"}
        except BaseException as error:
            record = {"error": f"{type(error).__name__}: {error}"}
    print(PREFIX, key, json.dumps(record), flush=True)
'''


def observation_cell(entry, key, inputs, student):
    """The source of the cell that observes ``entry`` in the student's kernel: the harness, then
    one call of it with this run's key, the student's names it reads and the inputs (as JSON
    inside the source)."""
    call = (f"_nnlib_observe(globals(), {key!r}, {entry.observe_source()!r}, {student!r}, "
            f"json.loads({json.dumps(encode_inputs(inputs))!r}))")
    return (f"# the autograder observes {entry.label}\n"
            + _HARNESS.replace("PREFIX", repr(RECORD)).replace(
                "def _nnlib_observe", "import json\n\n\ndef _nnlib_observe", 1)
            + f"\n{call}\ndel _nnlib_observe\n")


def encode_inputs(inputs):
    return {name: encode(value) for name, value in inputs.items()}


def read_record(outputs, key, limit=2**22):
    """The one record with ``key`` among a cell's outputs, decoded: ("value", data),
    ("error", message) or ("missing", names). Raises ValueError when there is none, more than
    one, or it is malformed."""
    text = "".join(o.get("text", "") for o in outputs
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")
    found = [line for line in text.splitlines() if line.startswith(f"{RECORD} {key} ")]
    if len(found) != 1:
        raise ValueError("no observation came back" if not found else
                         f"{len(found)} observations came back for one: tampered with")
    payload = found[0][len(RECORD) + len(key) + 2:]
    if len(payload) > limit:
        raise ValueError("the observation is too large")
    record = json.loads(payload)
    if not isinstance(record, dict) or len(record) != 1:
        raise ValueError("a malformed observation")
    (kind, content), = record.items()
    if kind == "value":
        return kind, decode(content)
    if kind == "error" and isinstance(content, str):
        return kind, content
    if kind == "missing" and isinstance(content, list):
        return kind, [str(name) for name in content]
    raise ValueError("a malformed observation")
