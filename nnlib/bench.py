"""The training benchmark: the article's network shape on every engine, against the engine's limit.

    python -m nnlib.bench --size small                 # every available engine
    python -m nnlib.bench --size full --engines native_float --json out.json
    python -m nnlib.bench --grid --json grid.json      # nnlib against eager PyTorch, on a grid

The network is the article's micro benchmark (Dragan Djuric, "Deep Learning from Scratch to GPU -
12", 2019): layers of 5000 tanh, 1000 sigmoid and 10 sigmoid neurons on 10000 inputs, a batch of
10000, the quadratic cost. ``small`` and ``medium`` scale every size but the output layer down by
5 and by 2. For each engine it reports seconds per epoch and the useful GFLOP/s (the matrix
products of the forward and backward passes), and measures the engine's own gemm rate on exactly
those products in the same run: ``ratio`` says how close training comes to that limit. Where
PyTorch is installed it also times an idiomatic PyTorch loop on the same network and data.

``--grid`` asks where nnlib stands against eager PyTorch as the shape changes: a 256 -> H tanh ->
10 sigmoid network (H in 32, 512, 2000) at batches of 10, 100 and 1000, trained by full-batch
``nn.sgd`` (one step per epoch) and by mini-batch ``nn.train`` (4000 examples per epoch). Each
side runs in its own process; at every point the two take turns, run by run, and each keeps its
best run. nnlib's epoch is also split into its matrix products, its data path and the rest.
"""

import argparse
import datetime
import importlib.util
import json
import math
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path
from unittest import mock

import numpy as np
import psutil

import nnlib as nn
from nnlib import minibatch
from nnlib.engines import ENGINES

SIZES = {  # name: (inputs, layer widths, batch)
    "tiny": (200, (100, 20, 10), 200),   # for the tests: a second or two on any engine
    "small": (2000, (1000, 200, 10), 2000),
    "medium": (5000, (2500, 500, 10), 5000),
    "full": (10000, (5000, 1000, 10), 10000),
}
ACTIVATIONS = (nn.tanh, nn.sigmoid, nn.sigmoid)


def gemm_shapes(in_dim, widths, batch):
    """The ``(m, n, k)`` of every matrix product in one training epoch, forward then backward."""
    dims = [in_dim, *widths]
    forward = [(out, batch, inp) for inp, out in zip(dims, dims[1:])]          # z = W a
    weights = [(out, inp, batch) for inp, out in zip(dims, dims[1:])]          # v = delta a^T
    # W^T delta, not layer 1
    propagate = [(inp, batch, out) for inp, out in zip(dims[1:], dims[2:])]
    return forward + weights + propagate


def epoch_flops(in_dim, widths, batch):
    """Floating-point operations of the matrix products in one epoch (2 m n k each)."""
    return sum(2 * m * n * k for m, n, k in gemm_shapes(in_dim, widths, batch))


def _timed(step, repeats, sync):
    step()
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    sync()
    return (time.perf_counter() - start) / repeats


def gemm_limit(eng, in_dim, widths, batch, repeats=3):
    """The engine's own gemm rate (GFLOP/s) on the products of one epoch, each timed alone."""
    seconds = flops = 0.0
    for m, n, k in gemm_shapes(in_dim, widths, batch):
        a, b, c = eng.zeros((m, k)), eng.zeros((k, n)), eng.zeros((m, n))
        eng.fill(a, 0.01), eng.fill(b, 0.01)
        seconds += _timed(lambda: eng.gemm(1.0, a, b, 0.0, c), repeats, eng.synchronize)
        flops += 2 * m * n * k
        for matrix in (a, b, c):
            eng.release(matrix)
    return flops / seconds / 1e9


def _data(in_dim, batch, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.0, 1.0, (in_dim, batch)).astype(np.float32),
            np.full((10, batch), 0.33, np.float32))


def _weights(in_dim, widths, seed=1):
    """Small random weights (std 1/sqrt(fan-in)), the same for every engine and for PyTorch."""
    rng = np.random.default_rng(seed)
    dims = [in_dim, *widths]
    return [(rng.standard_normal((out, inp)).astype(np.float32) / np.sqrt(inp),
             np.zeros(out, np.float32))
            for inp, out in zip(dims, dims[1:])]


def bench_engine(name, size, epochs):
    """Time ``epochs`` epochs of nn.sgd on engine ``name``; return the figures as a dict."""
    in_dim, widths, batch = SIZES[size]
    eng = ENGINES[name]()
    x_host, y_host = _data(in_dim, batch)
    x, y = eng.matrix(x_host), eng.matrix(y_host)
    layers = [nn.fully_connected(w, f) for w, f in zip(widths, ACTIVATIONS)]
    inference = nn.inference_network(eng, in_dim, layers)
    for layer, (w, b) in zip(inference.layers, _weights(in_dim, widths)):
        eng.transfer(w, layer.weights)
        eng.transfer(b, layer.bias)
    training = nn.training_network(inference, x)
    nn.sgd(training, y, nn.quadratic_cost, 1, 0.05)          # warm-up: kernels compile, caches fill
    eng.synchronize()

    allocated = None
    if name == "cuda_float":   # device memory: what CuPy's pool had to grow by
        import cupy
        pool = cupy.get_default_memory_pool()
        before = pool.total_bytes()
        nn.sgd(training, y, nn.quadratic_cost, 2, 0.05)
        eng.synchronize()
        allocated = (pool.total_bytes() - before) / 2
    else:
        # host memory allocated through Python (NumPy arrays, pyopencl objects)
        tracemalloc.start()
        nn.sgd(training, y, nn.quadratic_cost, 2, 0.05)
        eng.synchronize()
        allocated = tracemalloc.get_traced_memory()[1] / 2
        tracemalloc.stop()

    rss_before = psutil.Process().memory_info().rss
    start = time.perf_counter()
    # reads the cost: waits for the device
    cost = nn.sgd(training, y, nn.quadratic_cost, epochs, 0.05)
    seconds = (time.perf_counter() - start) / epochs
    rss_after = psutil.Process().memory_info().rss
    training.release()
    inference.release()
    gflops = epoch_flops(in_dim, widths, batch) / seconds / 1e9
    limit = gemm_limit(eng, in_dim, widths, batch)
    result = {"engine": name, "size": size, "device": repr(eng), "epochs": epochs,
              "seconds_per_epoch": seconds, "gflops": gflops, "limit_gflops": limit,
              "ratio": gflops / limit, "cost": cost, "bytes_allocated_per_epoch": allocated,
              "rss_growth_mb": (rss_after - rss_before) / 2**20,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    eng.close()
    return result


def bench_torch(size, epochs):
    """Seconds per epoch of an idiomatic PyTorch loop on the same network and data, or None.

    It runs in a process of its own: PyTorch's OpenMP threads keep spinning after its last
    operation and would slow down whatever this process measures next (and the reverse)."""
    if not _torch_installed():
        return None
    done = subprocess.run([sys.executable, "-m", "nnlib.bench", "--size", size,
                           "--epochs", str(epochs), "--torch-only"],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _torch_loop(size, epochs):
    import torch
    in_dim, widths, batch = SIZES[size]
    x_host, y_host = _data(in_dim, batch)
    # one example per row
    x, y = torch.from_numpy(x_host.T.copy()), torch.from_numpy(y_host.T.copy())
    model = _torch_model(in_dim, widths)
    loss_fn = torch.nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

    def epoch():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    epoch()
    start = time.perf_counter()
    for _ in range(epochs):
        loss = epoch()
    loss.item()
    return {"engine": "torch", "size": size,
            "device": f"torch {torch.__version__} CPU, {torch.get_num_threads()} threads",
            "seconds_per_epoch": (time.perf_counter() - start) / epochs}


def _torch_installed():
    """Whether PyTorch can be imported, found without importing it: this process must not load
    PyTorch's OpenMP runtime, whose threads would compete with the figures measured here."""
    return importlib.util.find_spec("torch") is not None


def _torch_model(in_dim, widths):
    """``torch.nn.Sequential`` of Linear layers, tanh then sigmoids, with the weights of
    ``_weights``. PyTorch adds its bias where nnlib subtracts it; both start from zero."""
    import torch
    dims = [in_dim, *widths]
    activations = [torch.nn.Tanh] + [torch.nn.Sigmoid] * (len(widths) - 1)
    modules = []
    for (inp, out), activation, (w, b) in zip(zip(dims, dims[1:]), activations,
                                              _weights(in_dim, widths)):
        linear = torch.nn.Linear(inp, out)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        modules += [linear, activation()]
    return torch.nn.Sequential(*modules)


def machine():
    """The CPU model and core count, as the figures should be labelled."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import os
    return f"{model}, {os.cpu_count()} cores"


def run(size="small", engines=None, epochs=None):
    """Benchmark ``engines`` (default: every available one) at ``size``; a list of result dicts."""
    epochs = epochs or {"tiny": 5, "small": 5, "medium": 3, "full": 2}[size]
    available = nn.available_engines()
    names = engines or [name for name, reason in available.items() if reason is None]
    results = []
    torch_result = bench_torch(size, epochs)
    for name in names:
        if available.get(name) is not None:
            print(f"skipping {name}: {available[name]}", file=sys.stderr)
            continue
        result = bench_engine(name, size, epochs)
        result["machine"] = machine()
        if torch_result:
            result["torch_seconds_per_epoch"] = torch_result["seconds_per_epoch"]
            result["speedup_vs_torch"] = (torch_result["seconds_per_epoch"]
                                          / result["seconds_per_epoch"])
        results.append(result)
    return results


def table(results):
    """The results as a readable text table."""
    lines = [f"{'engine':<14}{'size':<8}{'s/epoch':>10}{'GFLOP/s':>10}{'gemm GFLOP/s':>14}"
             f"{'ratio':>7}{'vs torch':>10}{'alloc/epoch':>13}"]
    for r in results:
        alloc = r.get("bytes_allocated_per_epoch")
        lines.append(f"{r['engine']:<14}{r['size']:<8}{r['seconds_per_epoch']:>10.4f}"
                     f"{r['gflops']:>10.1f}{r['limit_gflops']:>14.1f}{r['ratio']:>7.2f}"
                     + (f"{r['speedup_vs_torch']:>9.2f}x" if "speedup_vs_torch" in r
                        else f"{'-':>10}")
                     + (f"{alloc / 1e6:>10.2f} MB" if alloc is not None else f"{'-':>13}"))
    return "\n".join(lines)


# ---- the grid: nnlib against eager PyTorch, over hidden widths and batch sizes ------------------

GRID_INPUTS, GRID_OUTPUTS = 256, 10
GRID_WIDTHS = (32, 512, 2000)
GRID_BATCHES = (10, 100, 1000)
GRID_MODES = ("sgd", "train")
GRID_EXAMPLES = 4000          # examples per epoch of mini-batch training
GRID_ETA = 0.05
SETTLE_SECONDS = 0.15         # idle time at each hand-over, for spinning threads to park
UNSTEADY = 1.25               # a point whose slowest run exceeds its best by this is flagged


def _grid_data(in_dim, out_dim, examples, seed=0):
    """Inputs uniform in [0, 1) and one-hot targets of random classes, one example per column."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (in_dim, examples)).astype(np.float32)
    y = np.zeros((out_dim, examples), np.float32)
    y[rng.integers(0, out_dim, examples), np.arange(examples)] = 1.0
    return x, y


def _run_seconds(run, epochs, sync):
    start = time.perf_counter()
    run(epochs)
    sync()
    return time.perf_counter() - start


class _Turns:
    """Timed runs that take turns: ``runs`` are functions, ``run(n)`` trains ``n`` epochs.

    Each is first calibrated, after one epoch of warm-up (buffers, caches, lazy set-up): the
    epochs per timed run grow until a run lasts ``min_time``, so that the timer and the per-call
    set-up stay small against it. Then each ``round()`` times every run once, in turn, so that
    a busy spell on a shared machine falls on all of them alike; ``best(i)`` is the least seconds
    per epoch of run ``i``, the run that the rest of the machine disturbed least."""

    def __init__(self, runs, min_time, sync=lambda: None):
        self.runs, self.sync = list(runs), sync
        self.epochs = [self._calibrated(run, min_time) for run in self.runs]
        self.times = [[] for _ in self.runs]

    def _calibrated(self, run, min_time):
        _run_seconds(run, 1, self.sync)
        epochs, fastest = 1, math.inf      # fastest: seconds per epoch, the least seen so far
        while True:
            seconds = _run_seconds(run, epochs, self.sync)
            fastest = min(fastest, max(seconds, 1e-9) / epochs)
            if seconds >= min_time:        # (a run slowed down by other work ends this early,
                break                      # hence the count from the fastest run below)
            epochs = min(10 * epochs, max(epochs + 1, math.ceil(1.2 * min_time / fastest)))
        return max(epochs, math.ceil(min_time / fastest))

    def round(self):
        for run, epochs, times in zip(self.runs, self.epochs, self.times):
            times.append(_run_seconds(run, epochs, self.sync) / epochs)

    def best(self, index=0):
        return min(self.times[index])


def step_products(in_dim, widths, batch):
    """The matrix products of one training step, as the training layers call ``eng.gemm``:
    ``(a shape, b shape, c shape, trans_a, trans_b)``, forward then backward."""
    dims = [in_dim, *widths]
    forward = [((out, inp), (inp, batch), (out, batch), False, False)      # z = W a
               for inp, out in zip(dims, dims[1:])]
    backward = []
    for index, (inp, out) in reversed(list(enumerate(zip(dims, dims[1:])))):
        backward.append(((out, batch), (inp, batch), (out, inp), False, True))   # v = δ aᵀ
        if index > 0:                                                            # Wᵀ δ
            backward.append(((out, inp), (out, batch), (inp, batch), True, False))
    return forward + backward


def _gemm_run(eng, in_dim, widths, batch, steps):
    """``(run, release)``: ``run(n)`` makes the matrix products of ``n`` epochs of ``steps``
    steps and nothing else, through ``eng.gemm`` on preallocated matrices: the part of an epoch
    that a faster BLAS would speed up, wrapper included."""
    products = []
    for a_shape, b_shape, c_shape, trans_a, trans_b in step_products(in_dim, widths, batch):
        a, b, c = eng.zeros(a_shape), eng.zeros(b_shape), eng.zeros(c_shape)
        eng.fill(a, 0.01), eng.fill(b, 0.01)
        products.append((a, b, c, trans_a, trans_b))

    def run(epochs):
        for _ in range(epochs * steps):
            for a, b, c, trans_a, trans_b in products:
                eng.gemm(1.0, a, b, 0.0, c, trans_a=trans_a, trans_b=trans_b)

    def release():
        for a, b, c, _, _ in products:
            for matrix in (a, b, c):
                eng.release(matrix)

    return run, release


class _NoCost(nn.Cost):
    """A cost that computes nothing, for timing ``nn.train``'s data path on its own."""

    def derivative(self, eng, y, a):
        return a

    def value(self, eng, difference):
        return 0.0


def _data_path_run(inference, x, y, batch):
    """``(run, built)``: ``run(n)`` is ``n`` epochs of ``nn.train`` itself with the compute
    skipped, that is its data path (the shuffle, the column gather on the host, the transfer to
    the engine) and its Python loop. ``built`` stays empty where ``nn.train`` no longer builds
    its network through ``training_network``: then the figure is not what it says."""
    built = []

    def no_compute(inference, x_batch):
        """The real training network (buffers, attributes), with passes that do nothing."""
        network = nn.training_network(inference, x_batch)
        network.forward = lambda: network.output
        network.backward = lambda eta: None
        built.append(network)
        return network

    def run(epochs):
        with mock.patch.object(minibatch, "training_network", no_compute):
            nn.train(inference, x, y, _NoCost(), epochs, GRID_ETA, batch_size=batch, seed=0)

    return run, built


class _NnlibPoint:
    """nnlib at one grid point on one engine: the training run, and where asked the pieces of
    its epoch (the products alone; for ``train`` the data path alone), timed in turns."""

    def __init__(self, eng, mode, width, batch, data, min_time, breakdown=True):
        x, y = data
        in_dim, out_dim, examples = x.shape[0], y.shape[0], x.shape[1]
        self.widths = (width, out_dim)
        self.figures = {"mode": mode, "width": width, "batch": batch, "engine": eng.name}
        inference = nn.inference_network(eng, in_dim, [nn.fully_connected(width, nn.tanh),
                                                       nn.fully_connected(out_dim, nn.sigmoid)])
        self._cleanup = [inference.release]
        try:
            for layer, (w, b) in zip(inference.layers, _weights(in_dim, self.widths)):
                eng.transfer(w, layer.weights)
                eng.transfer(b, layer.bias)
            if mode == "sgd":      # one step per epoch on the first `batch` examples
                x_batch, y_batch = eng.matrix(x[:, :batch]), eng.matrix(y[:, :batch])
                training = nn.training_network(inference, x_batch)
                self._cleanup += [lambda: eng.release(x_batch), lambda: eng.release(y_batch),
                                  training.release]
                steps = 1

                def run(epochs):
                    nn.sgd(training, y_batch, nn.quadratic_cost, epochs, GRID_ETA)
            else:
                steps = -(-examples // batch)

                def run(epochs):
                    nn.train(inference, x, y, nn.quadratic_cost, epochs, GRID_ETA,
                             batch_size=batch, seed=0)
            runs, self.built = [run], None
            if breakdown:
                gemm_run, release = _gemm_run(eng, in_dim, self.widths, batch, steps)
                self._cleanup.append(release)
                runs.append(gemm_run)
                if mode == "train":
                    data_run, self.built = _data_path_run(inference, x, y, batch)
                    runs.append(data_run)
            self.figures.update(steps_per_epoch=steps,
                                flops_per_epoch=steps * epoch_flops(in_dim, self.widths, batch))
            self.turns = _Turns(runs, min_time, eng.synchronize)
        except BaseException:
            self.release()
            raise

    def round(self):
        self.turns.round()

    def result(self):
        turns, seconds = self.turns, self.turns.best(0)
        point = dict(self.figures, epochs_per_run=turns.epochs[0], seconds_per_epoch=seconds,
                     runs=turns.times[0], spread=max(turns.times[0]) / seconds)
        if len(turns.runs) > 1:
            gemm = turns.best(1)
            data_path = turns.best(2) if self.built else None
            point["breakdown"] = {"gemm": gemm, "data": data_path,
                                  "rest": seconds - gemm - (data_path or 0.0)}
        return point

    def release(self):
        while self._cleanup:
            self._cleanup.pop()()


def _torch_labels():
    import torch
    config = torch.__config__.show()

    def setting(pattern):
        found = re.search(pattern, config)
        return found.group(1) if found else None

    return {"version": torch.__version__, "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "blas": setting(r"BLAS_INFO=(\w+)"),
            "cpu_capability": setting(r"CPU capability usage: (\w+)")}


def _torch_run(mode, width, batch, data, eta=GRID_ETA):
    """``run(n)``: ``n`` epochs of the loop a PyTorch user would write, at one grid point.

    One example per row; ``MSELoss`` averages the squared error over the batch and the outputs
    and doubles it, so a learning rate of ``eta * outputs / 2`` takes the same step as nnlib's
    quadratic cost at ``eta`` (from the same weights, the two follow the same path)."""
    import torch
    x_host, y_host = data
    x, y = torch.from_numpy(x_host.T.copy()), torch.from_numpy(y_host.T.copy())
    examples, outputs = x.shape[0], y.shape[1]
    model = _torch_model(x.shape[1], (width, outputs))
    loss_fn = torch.nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=eta * outputs / 2)

    def step(x_batch, y_batch):
        optimizer.zero_grad()
        loss = loss_fn(model(x_batch), y_batch)
        loss.backward()
        optimizer.step()
        return loss

    if mode == "sgd":
        x_batch, y_batch = x[:batch], y[:batch]

        def run(epochs):
            for _ in range(epochs):
                loss = step(x_batch, y_batch)
            return loss.item()
        return run

    generator = torch.Generator().manual_seed(0)
    steps = -(-examples // batch)

    def run(epochs):
        for _ in range(epochs):     # the last batch is short where batch does not divide
            order, total = torch.randperm(examples, generator=generator), 0.0
            for start in range(0, examples, batch):
                rows = order[start:start + batch]
                total += step(x[rows], y[rows]).item()
        return total / steps
    return run


def _torch_server():
    """The PyTorch side of the grid, in a process of its own: one JSON request per line on
    stdin, one JSON answer per line on stdout; the first line out says what PyTorch this is.
    ``{"point": {...}}`` sets up and calibrates a grid point, ``{"round": true}`` times it once."""
    print(json.dumps(_torch_labels()), flush=True)
    data, turns = {}, None
    for line in sys.stdin:
        request = json.loads(line)
        if "point" in request:
            point = request["point"]
            key = (point["examples"], point["seed"])
            if key not in data:
                data[key] = _grid_data(GRID_INPUTS, GRID_OUTPUTS, *key)
            run = _torch_run(point["mode"], point["width"], point["batch"], data[key])
            turns = _Turns([run], point["min_time"])
            answer = {"epochs_per_run": turns.epochs[0]}
        else:
            turns.round()
            answer = {"seconds_per_epoch": turns.times[0][-1]}
        print(json.dumps(answer), flush=True)


class _TorchSide:
    """The PyTorch process of a grid run, started once and asked point by point and run by run,
    taking turns with nnlib so that both sides meet the same load; it waits, idle, while nnlib
    measures, and the other way round."""

    def __init__(self):
        self.errors = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nnlib.bench", "--grid", "--torch-only"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors, text=True)
        try:
            self.labels = self._answer()
        except RuntimeError:
            self.close()
            raise

    def _answer(self):
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.errors.seek(0)
            last = (self.errors.read().strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(f"the PyTorch process stopped (exit status "
                               f"{self.process.returncode}): {last}")
        return json.loads(line)

    def ask(self, **request):
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass                                  # it stopped: _answer says why
        return self._answer()

    def close(self):
        """End the process (it exits when its input closes) and free its pipes."""
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except BrokenPipeError:
                pass
        self.process.wait()
        self.errors.close()


def blas_info():
    """The BLAS libraries loaded in this process, from threadpoolctl: which library and version,
    which kernels it picked for this CPU (its ``architecture``) and how many threads it runs.
    The native engine's products go through SciPy's BLAS (``bundled_with: scipy.libs``)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    import scipy.linalg.blas  # noqa: F401  (load the BLAS the native engine calls)
    return [{"library": Path(info["filepath"]).name,
             "bundled_with": Path(info["filepath"]).parent.name,
             "internal_api": info.get("internal_api"), "version": info.get("version"),
             "architecture": info.get("architecture"),
             "threading_layer": info.get("threading_layer"), "threads": info.get("num_threads")}
            for info in threadpool_info() if info.get("user_api") == "blas"]


def _grid_point(engines, torch_side, point, data, repeats, min_time, breakdown):
    """One grid point on every engine, beside PyTorch where ``torch_side`` is given: both sides
    set up and calibrate, then take turns, run by run, with a pause at each hand-over for the
    other side's threads to stop spinning. Returns the points and PyTorch's error, if any."""
    ours = []
    try:
        for eng in engines:
            ours.append(_NnlibPoint(eng, point["mode"], point["width"], point["batch"], data,
                                    min_time, breakdown))
        theirs, error = [], None
        if torch_side is not None:
            time.sleep(SETTLE_SECONDS)
            try:
                epochs = torch_side.ask(point=dict(point, min_time=min_time))["epochs_per_run"]
            except RuntimeError as stopped:
                torch_side, error = None, str(stopped)
        for _ in range(repeats):
            if torch_side is not None:
                time.sleep(SETTLE_SECONDS)
                try:
                    theirs.append(torch_side.ask(round=True)["seconds_per_epoch"])
                except RuntimeError as stopped:
                    torch_side, error, theirs = None, str(stopped), []
                time.sleep(SETTLE_SECONDS)
            for one in ours:
                one.round()
        results = [one.result() for one in ours]
    finally:
        for one in ours:
            one.release()
    if theirs:
        for result in results:
            result.update(torch_seconds_per_epoch=min(theirs), torch_epochs_per_run=epochs,
                          torch_runs=theirs, torch_spread=max(theirs) / min(theirs),
                          speedup=min(theirs) / result["seconds_per_epoch"])
    return results, error


def run_grid(widths=GRID_WIDTHS, batches=GRID_BATCHES, modes=GRID_MODES, engines=None,
             examples=GRID_EXAMPLES, repeats=5, min_time=0.1, with_torch=True, breakdown=True):
    """nnlib's seconds per epoch on a grid of hidden widths and batch sizes, beside eager PyTorch's
    where it is installed; a JSON-ready dict with the figures and the labels they need.

    PyTorch runs in a process of its own (this one never imports it), and the two take turns."""
    import scipy
    started = {}
    for name in engines or ["native_float"]:
        try:
            started[name] = ENGINES[name]()
        except nn.EngineUnavailable as reason:
            print(f"skipping {name}: {reason}", file=sys.stderr)
    result = {
        "benchmark": "grid",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(), "load_average": {"start": list(os.getloadavg())},
        "python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
        "blas": blas_info(), "torch": None, "torch_missing": None,
        "network": {"inputs": GRID_INPUTS, "hidden": "tanh", "outputs": GRID_OUTPUTS,
                    "output_activation": "sigmoid", "cost": "quadratic", "dtype": "float32"},
        "settings": {"widths": list(widths), "batches": list(batches), "modes": list(modes),
                     "engines": list(started), "examples": examples, "eta": GRID_ETA,
                     "repeats": repeats, "min_time": min_time, "seed": 0,
                     "settle_seconds": SETTLE_SECONDS},
        "points": []}
    torch_side = None
    if not with_torch:
        result["torch_missing"] = "--no-torch"
    elif not _torch_installed():
        result["torch_missing"] = "PyTorch is not installed"
    else:
        try:
            torch_side = _TorchSide()
            result["torch"] = torch_side.labels
        except RuntimeError as error:
            result["torch_missing"] = str(error)
    data = _grid_data(GRID_INPUTS, GRID_OUTPUTS, examples)
    try:
        for mode in modes:
            for width in widths:
                for batch in batches:
                    point = {"mode": mode, "width": width, "batch": batch,
                             "examples": examples, "seed": 0}
                    points, error = _grid_point(list(started.values()), torch_side, point,
                                                data, repeats, min_time, breakdown)
                    result["points"] += points
                    if error:                     # go on with nnlib's figures alone
                        result["torch_missing"] = f"at {mode} H={width} B={batch}: {error}"
                        torch_side.close()
                        torch_side = None
    finally:
        if torch_side is not None:
            torch_side.close()
        for eng in started.values():
            eng.close()
    result["load_average"]["end"] = list(os.getloadavg())
    return result


def _duration(seconds):
    """``seconds`` in a unit that keeps three significant digits readable: 42.6µs, 1.30ms, 2.05s."""
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale or unit == "µs":
            value = seconds / scale
            return f"{value:.3g}{unit}" if value < 100 else f"{value:.0f}{unit}"


def grid_table(result):
    """The grid as text: labels first, then per engine the times (rows: mode and H, columns: B)
    and nnlib's breakdown of the epoch."""
    settings, torch_labels = result["settings"], result["torch"]
    batches = settings["batches"]
    scipy_blas = [b for b in result["blas"] if "scipy" in b["bundled_with"]] or result["blas"]
    load = result["load_average"]
    lines = [f"nnlib against eager PyTorch: {result['network']['inputs']} inputs -> H tanh -> "
             f"{result['network']['outputs']} sigmoid, quadratic cost, float32",
             f"machine: {result['machine']}; load average {load['start'][0]:.2f} at the start"
             + (f", {load['end'][0]:.2f} at the end" if "end" in load else "")]
    for b in scipy_blas[:1]:
        lines.append(f"nnlib BLAS: {b['internal_api']} {b['version']} ({b['bundled_with']}), "
                     f"{b['architecture']} kernels, {b['threads']} threads "
                     f"({b['threading_layer']})")
    if torch_labels:
        lines.append(f"PyTorch {torch_labels['version']}: {torch_labels['threads']} threads, "
                     f"{torch_labels['interop_threads']} inter-op threads, BLAS "
                     f"{torch_labels['blas']}, CPU capability {torch_labels['cpu_capability']}")
    else:
        lines.append(f"PyTorch: not measured ({result['torch_missing']})")
    lines += [f"seconds per epoch, best of {settings['repeats']} runs of at least "
              f"{settings['min_time']} s each",
              "speedup = torch / nnlib (above 1: nnlib is faster)",
              f"sgd: one step on a batch of B examples; train: {settings['examples']} shuffled "
              "examples in batches of B"]
    head = f"{'mode':<6}{'H':>5} "
    for name in settings["engines"]:
        points = {(p["mode"], p["width"], p["batch"]): p for p in result["points"]
                  if p["engine"] == name}
        lines += ["", f"{name}:",
                  head + "".join(f"| {'B=' + str(b):^26}" for b in batches),
                  " " * len(head) + f"| {'nnlib':>8}{'torch':>8}{'speedup':>9} " * len(batches)]
        for mode in settings["modes"]:
            for width in settings["widths"]:
                row = f"{mode:<6}{width:>5} "
                for batch in batches:
                    p = points[(mode, width, batch)]
                    speedup = f"{p['speedup']:.2f}x" if "speedup" in p else "-"
                    row += (f"| {_duration(p['seconds_per_epoch']):>8}"
                            f"{_duration(p.get('torch_seconds_per_epoch')):>8}{speedup:>9} ")
                lines.append(row)
        unsteady = [f"{p['mode']} H={p['width']} B={p['batch']} ({side} {p[key]:.2f}x)"
                    for p in points.values()
                    for side, key in (("nnlib", "spread"), ("torch", "torch_spread"))
                    if p.get(key, 1.0) > UNSTEADY]
        if unsteady:
            lines += textwrap.wrap(f"unsteady (slowest run over {UNSTEADY}x the best: the "
                                   "machine was busy): " + ", ".join(unsteady), 100,
                                   subsequent_indent="    ")
        if not any("breakdown" in p for p in points.values()):
            continue
        lines += ["", f"{name}, where the epoch goes (share of nnlib's seconds per epoch):",
                  "gemm: the matrix products alone; data: nn.train with the compute skipped "
                  "(shuffle, gather, transfer);",
                  "rest: what is left (element-wise work, bias, cost, Python calls)",
                  head + "".join(f"| {'B=' + str(b):^19}" for b in batches),
                  " " * len(head) + f"| {'gemm':>6}{'data':>6}{'rest':>6} " * len(batches)]
        for mode in settings["modes"]:
            for width in settings["widths"]:
                row = f"{mode:<6}{width:>5} "
                for batch in batches:
                    p = points[(mode, width, batch)]
                    split = p["breakdown"]
                    shares = [None if split[k] is None else split[k] / p["seconds_per_epoch"]
                              for k in ("gemm", "data", "rest")]
                    row += "| " + "".join("     -" if s is None else f"{s:>6.0%}"
                                          for s in shares) + " "
                lines.append(row)
    return "\n".join(line.rstrip() for line in lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nnlib.bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="small")
    parser.add_argument("--engines", nargs="+", choices=list(ENGINES),
                        help="default: every available engine (--grid: native_float)")
    parser.add_argument("--epochs", type=int,
                        help="timed epochs (default 5 small, 3 medium, 2 full)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    grid = parser.add_argument_group("the grid against eager PyTorch (--grid)")
    grid.add_argument("--grid", action="store_true",
                      help="time nn.sgd and nn.train on a grid of hidden widths and batch sizes, "
                           "beside PyTorch where it is installed")
    grid.add_argument("--widths", nargs="+", type=int, default=list(GRID_WIDTHS), metavar="H")
    grid.add_argument("--batches", nargs="+", type=int, default=list(GRID_BATCHES), metavar="B")
    grid.add_argument("--modes", nargs="+", choices=GRID_MODES, default=list(GRID_MODES))
    grid.add_argument("--examples", type=int, default=GRID_EXAMPLES,
                      help="examples per epoch of nn.train (default %(default)s)")
    grid.add_argument("--repeats", type=int, default=5,
                      help="timed runs per point and side; the best counts (default %(default)s)")
    grid.add_argument("--min-time", type=float, default=0.1, metavar="SECONDS",
                      help="the least length of one timed run (default %(default)s)")
    grid.add_argument("--no-torch", action="store_true", help="measure nnlib only")
    grid.add_argument("--no-breakdown", action="store_true",
                      help="skip the split of nnlib's epoch (gemm, data, rest)")
    parser.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.grid and args.torch_only:
        _torch_server()
        return None
    if args.grid:
        if not all(n >= 1 for n in (*args.widths, *args.batches, args.examples, args.repeats)):
            parser.error("widths, batches, examples and repeats must be positive")
        if max(args.batches) > args.examples:
            parser.error(f"a batch cannot be larger than --examples ({args.examples})")
        result = run_grid(args.widths, args.batches, args.modes, args.engines, args.examples,
                          args.repeats, args.min_time, with_torch=not args.no_torch,
                          breakdown=not args.no_breakdown)
        print(grid_table(result))
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            with open(args.json, "w") as out:
                json.dump(result, out, indent=2)
        return result
    if args.torch_only:
        print(json.dumps(_torch_loop(args.size, args.epochs)))
        return None
    results = run(args.size, args.engines, args.epochs)
    print(f"nnlib training benchmark, size {args.size} {SIZES[args.size]}, on {machine()}")
    print(table(results))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return results


if __name__ == "__main__":
    main()
