"""The training benchmark: the article's network shape on every engine, against the engine's limit.

    python -m nnlib.bench --size small                 # every available engine
    python -m nnlib.bench --size full --engines native_float --json out.json
    python -m nnlib.bench --grid --json grid.json      # nnlib against eager PyTorch, on a grid

The network is the article's micro benchmark (Dragan Djuric, "Deep Learning from Scratch to GPU -
12", 2019): layers of 5000 tanh, 1000 sigmoid and 10 sigmoid neurons on 10000 inputs, a batch of
10000, the quadratic cost. ``small`` and ``medium`` scale every size but the output layer down by
5 and by 2. For each engine it reports seconds per epoch and the useful GFLOP/s (the matrix
products of the forward and backward passes), and measures the engine's own gemm rate on exactly
those products, as the training layers call them, in turns with the training epochs (best of
``--rounds`` each): ``ratio`` says how close training comes to that limit. Where PyTorch is
installed it also times an idiomatic PyTorch loop on the same network and data (``--torch-compile``:
and with ``torch.compile``). ``native_fused`` is ``native_float(fused=True)``, where Numba is.

``--grid`` runs the grid of ``nnlib.bench_grid`` instead: nnlib against eager PyTorch as the
network's width and the batch size change.
"""

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import psutil

import nnlib as nn
from nnlib.engines import ENGINES, EngineUnavailable
from nnlib.engines.native import fused_unavailable

SIZES = {  # name: (inputs, layer widths, batch)
    "tiny": (200, (100, 20, 10), 200),   # for the tests: a second or two on any engine
    "small": (2000, (1000, 200, 10), 2000),
    "medium": (5000, (2500, 500, 10), 5000),
    "full": (10000, (5000, 1000, 10), 10000),
}
ACTIVATIONS = (nn.tanh, nn.sigmoid, nn.sigmoid)


def _native_fused():
    reason = fused_unavailable()
    if reason is not None:
        raise EngineUnavailable(f"native_float(fused=True) is not available: {reason}")
    return nn.native_float(fused=True)


# the engines, and native_float(fused=True) under the name it reports, "native_fused"
BENCH_ENGINES = dict(ENGINES, native_fused=_native_fused)


def engine_status():
    """``{name: reason}`` for every engine of ``BENCH_ENGINES``, as ``nn.available_engines``."""
    status = nn.available_engines()
    reason = fused_unavailable()
    status["native_fused"] = None if reason is None else f"Numba's loops unavailable: {reason}"
    return status


def gemm_shapes(in_dim, widths, batch):
    """The ``(m, n, k)`` of every matrix product in one training epoch, forward then backward."""
    dims = [in_dim, *widths]
    forward = [(out, batch, inp) for inp, out in zip(dims, dims[1:])]          # z = W a
    weights = [(out, inp, batch) for inp, out in zip(dims, dims[1:])]          # v = delta a^T
    # W^T delta, not layer 1
    propagate = [(inp, batch, out) for inp, out in zip(dims[1:], dims[2:])]
    return forward + weights + propagate


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


def products_run(eng, in_dim, widths, batch, steps=1):
    """``(run, release)``: ``run(n)`` makes the matrix products of ``n`` epochs of ``steps``
    steps and nothing else, through ``eng.gemm`` on preallocated matrices, in the order and with
    the transposes of the training layers: the part of an epoch that a faster BLAS would speed
    up, wrapper included."""
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


def shared_weights(in_dim, widths, seed=1):
    """Small random weights (std 1/sqrt(fan-in)), the same for every engine and for PyTorch."""
    rng = np.random.default_rng(seed)
    dims = [in_dim, *widths]
    return [(rng.standard_normal((out, inp)).astype(np.float32) / np.sqrt(inp),
             np.zeros(out, np.float32))
            for inp, out in zip(dims, dims[1:])]


def bench_engine(name, size, epochs, rounds=5):
    """Time ``epochs`` epochs of nn.sgd on engine ``name``, ``rounds`` times, each time followed
    by the same epochs' matrix products alone; return the figures as a dict.

    The limit is the products' best round, measured in turns with the training: a busy spell on
    a shared machine slows both alike, and the best of several rounds of each is the one it
    disturbed least, so load cannot push the ratio of the two above 1."""
    in_dim, widths, batch = SIZES[size]
    eng = BENCH_ENGINES[name]()
    x_host, y_host = _data(in_dim, batch)
    x, y = eng.matrix(x_host), eng.matrix(y_host)
    layers = [nn.fully_connected(w, f) for w, f in zip(widths, ACTIVATIONS)]
    inference = nn.inference_network(eng, in_dim, layers)
    for layer, (w, b) in zip(inference.layers, shared_weights(in_dim, widths)):
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

    products, release_products = products_run(eng, in_dim, widths, batch)
    products(1)
    eng.synchronize()
    rss_before = psutil.Process().memory_info().rss
    train_runs, gemm_runs = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        # reads the cost: waits for the device
        cost = nn.sgd(training, y, nn.quadratic_cost, epochs, 0.05)
        train_runs.append((time.perf_counter() - start) / epochs)
        start = time.perf_counter()
        products(epochs)
        eng.synchronize()
        gemm_runs.append((time.perf_counter() - start) / epochs)
    rss_after = psutil.Process().memory_info().rss
    release_products()
    training.release()
    inference.release()
    flops = epoch_flops(in_dim, widths, batch)
    seconds, gemm_seconds = min(train_runs), min(gemm_runs)
    gflops, limit = flops / seconds / 1e9, flops / gemm_seconds / 1e9
    result = {"engine": name, "size": size, "device": repr(eng), "epochs": epochs,
              "rounds": rounds, "seconds_per_epoch": seconds, "gflops": gflops,
              "limit_gflops": limit, "ratio": gflops / limit, "cost": cost,
              "train_runs": train_runs, "gemm_runs": gemm_runs,
              "bytes_allocated_per_epoch": allocated,
              "rss_growth_mb": (rss_after - rss_before) / 2**20,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    eng.close()
    return result


def bench_torch(size, epochs, rounds=5, compiled=False):
    """Seconds per epoch of an idiomatic PyTorch loop on the same network and data (its best of
    ``rounds`` runs of ``epochs`` epochs; ``compiled``: the model through ``torch.compile``), or
    None where PyTorch is not installed.

    It runs in a process of its own: PyTorch's OpenMP threads keep spinning after its last
    operation and would slow down whatever this process measures next (and the reverse)."""
    if not torch_installed():
        return None
    done = subprocess.run([sys.executable, "-m", "nnlib.bench", "--size", size,
                           "--epochs", str(epochs), "--rounds", str(rounds), "--torch-only"]
                          + (["--torch-compile"] if compiled else []),
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _torch_loop(size, epochs, rounds=5, compiled=False):
    import torch
    in_dim, widths, batch = SIZES[size]
    x_host, y_host = _data(in_dim, batch)
    # one example per row
    x, y = torch.from_numpy(x_host.T.copy()), torch.from_numpy(y_host.T.copy())
    model = torch_model(in_dim, widths)
    loss_fn = torch.nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    forward = torch.compile(model) if compiled else model

    def epoch():
        optimizer.zero_grad()
        loss = loss_fn(forward(x), y)
        loss.backward()
        optimizer.step()
        return loss

    epoch()                                   # warm-up (and, compiled, the compilation)
    runs = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(epochs):
            loss = epoch()
        loss.item()
        runs.append((time.perf_counter() - start) / epochs)
    return {"engine": "torch.compile" if compiled else "torch", "size": size,
            "device": f"torch {torch.__version__} CPU, {torch.get_num_threads()} threads",
            "seconds_per_epoch": min(runs), "runs": runs}


def torch_installed():
    """Whether PyTorch can be imported, found without importing it: this process must not load
    PyTorch's OpenMP runtime, whose threads would compete with the figures measured here."""
    return importlib.util.find_spec("torch") is not None


def torch_model(in_dim, widths):
    """``torch.nn.Sequential`` of Linear layers, tanh then sigmoids, with the weights of
    ``shared_weights``. PyTorch adds its bias where nnlib subtracts it; both start from zero."""
    import torch
    dims = [in_dim, *widths]
    activations = [torch.nn.Tanh] + [torch.nn.Sigmoid] * (len(widths) - 1)
    modules = []
    for (inp, out), activation, (w, b) in zip(zip(dims, dims[1:]), activations,
                                              shared_weights(in_dim, widths)):
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
    return f"{model}, {os.cpu_count()} cores"


def run(size="small", engines=None, epochs=None, rounds=5, torch_compile=False):
    """Benchmark ``engines`` (default: every available one) at ``size``; a list of result dicts.
    ``torch_compile`` also times PyTorch's loop with the model through ``torch.compile``."""
    epochs = epochs or {"tiny": 5, "small": 5, "medium": 3, "full": 2}[size]
    available = engine_status()
    names = engines or [name for name, reason in available.items() if reason is None]
    results = []
    torch_result = bench_torch(size, epochs, rounds)
    compiled = bench_torch(size, epochs, rounds, compiled=True) if torch_compile else None
    for name in names:
        if available.get(name) is not None:
            print(f"skipping {name}: {available[name]}", file=sys.stderr)
            continue
        result = bench_engine(name, size, epochs, rounds)
        result["machine"] = machine()
        for key, other in (("torch", torch_result), ("torch_compiled", compiled)):
            if other:
                result[f"{key}_seconds_per_epoch"] = other["seconds_per_epoch"]
                result[f"speedup_vs_{key}"] = (other["seconds_per_epoch"]
                                                / result["seconds_per_epoch"])
        results.append(result)
    return results


def table(results):
    """The results as a readable text table."""
    compiled = any("speedup_vs_torch_compiled" in r for r in results)
    lines = [f"{'engine':<14}{'size':<8}{'s/epoch':>10}{'GFLOP/s':>10}{'gemm GFLOP/s':>14}"
             f"{'ratio':>7}{'vs torch':>10}" + (f"{'vs compiled':>13}" if compiled else "")
             + f"{'alloc/epoch':>13}"]
    for r in results:
        alloc = r.get("bytes_allocated_per_epoch")
        speedups = [r.get("speedup_vs_torch")] + ([r.get("speedup_vs_torch_compiled")]
                                                  if compiled else [])
        lines.append(f"{r['engine']:<14}{r['size']:<8}{r['seconds_per_epoch']:>10.4f}"
                     f"{r['gflops']:>10.1f}{r['limit_gflops']:>14.1f}{r['ratio']:>7.2f}"
                     + f"{'-' if speedups[0] is None else f'{speedups[0]:.2f}x':>10}"
                     + ("" if not compiled else
                        f"{'-' if speedups[1] is None else f'{speedups[1]:.2f}x':>13}")
                     + (f"{alloc / 1e6:>10.2f} MB" if alloc is not None else f"{'-':>13}"))
    return "\n".join(lines)


def main(argv=None):
    # the grid's module builds on this one, so it comes in here, not at the top
    from nnlib.bench_grid import GRID_BATCHES, GRID_EXAMPLES, GRID_MODES, GRID_WIDTHS
    from nnlib.bench_grid import grid_table, run_grid, torch_server
    parser = argparse.ArgumentParser(prog="python -m nnlib.bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="small")
    parser.add_argument("--engines", nargs="+", choices=list(BENCH_ENGINES),
                        help="default: every available engine (--grid: native_float and "
                             "native_fused); native_fused is native_float(fused=True)")
    parser.add_argument("--epochs", type=int,
                        help="timed epochs per round (default 5 small, 3 medium, 2 full)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of training epochs, each followed by the same epochs' "
                             "products alone; the best of each counts (default %(default)s)")
    parser.add_argument("--torch-compile", action="store_true",
                        help="also time PyTorch with its model through torch.compile")
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
        torch_server()
        return None
    if args.grid:
        if not all(n >= 1 for n in (*args.widths, *args.batches, args.examples, args.repeats)):
            parser.error("widths, batches, examples and repeats must be positive")
        if max(args.batches) > args.examples:
            parser.error(f"a batch cannot be larger than --examples ({args.examples})")
        result = run_grid(args.widths, args.batches, args.modes, args.engines, args.examples,
                          args.repeats, args.min_time, with_torch=not args.no_torch,
                          breakdown=not args.no_breakdown, torch_compile=args.torch_compile)
        print(grid_table(result))
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            with open(args.json, "w") as out:
                json.dump(result, out, indent=2)
        return result
    if args.rounds < 1:
        parser.error("rounds must be positive")
    if args.torch_only:
        print(json.dumps(_torch_loop(args.size, args.epochs, args.rounds, args.torch_compile)))
        return None
    results = run(args.size, args.engines, args.epochs, args.rounds, args.torch_compile)
    print(f"nnlib training benchmark, size {args.size} {SIZES[args.size]}, on {machine()}")
    print(table(results))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return results


if __name__ == "__main__":
    main()
