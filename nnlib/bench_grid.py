"""The benchmark grid: nnlib against eager PyTorch as the shape of the network changes.

    python -m nnlib.bench --grid --json grid.json

A 256 -> H tanh -> 10 sigmoid network (H in 32, 512, 2000) at batches of 10, 100 and 1000, trained
by full-batch ``nn.sgd`` (one step per epoch) and by mini-batch ``nn.train`` (4000 examples per
epoch). Each side runs in its own process (this one never imports PyTorch); at every point the
two take turns, run by run, and each keeps its best run. nnlib's epoch is also split into its
matrix products, its data path and the rest. Chapter 6 shows the figures.
"""

import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from functools import partial
from pathlib import Path
from unittest import mock

import numpy as np

import nnlib as nn
from nnlib import minibatch
from nnlib.bench import (BENCH_ENGINES, epoch_flops, machine, products_run, shared_weights,
                         step_products, torch_installed, torch_model)
from nnlib.engines.native import fused_unavailable

__all__ = ["run_grid", "grid_table", "torch_server", "blas_info", "step_products",
           "GRID_WIDTHS", "GRID_BATCHES", "GRID_MODES", "GRID_EXAMPLES"]

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
            for layer, (w, b) in zip(inference.layers, shared_weights(in_dim, self.widths)):
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
                gemm_run, release = products_run(eng, in_dim, self.widths, batch, steps)
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


def _torch_run(mode, width, batch, data, eta=GRID_ETA, compiled=False):
    """``run(n)``: ``n`` epochs of the loop a PyTorch user would write, at one grid point;
    ``compiled``: with the model through ``torch.compile`` (the first epoch compiles it).

    One example per row; ``MSELoss`` averages the squared error over the batch and the outputs
    and doubles it, so a learning rate of ``eta * outputs / 2`` takes the same step as nnlib's
    quadratic cost at ``eta`` (from the same weights, the two follow the same path)."""
    import torch
    x_host, y_host = data
    x, y = torch.from_numpy(x_host.T.copy()), torch.from_numpy(y_host.T.copy())
    examples, outputs = x.shape[0], y.shape[1]
    model = torch_model(x.shape[1], (width, outputs))
    loss_fn = torch.nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=eta * outputs / 2)
    if compiled:
        torch._dynamo.reset()      # a fresh model per point: past ones must not use up the cache
    forward = torch.compile(model) if compiled else model

    def step(x_batch, y_batch):
        optimizer.zero_grad()
        loss = loss_fn(forward(x_batch), y_batch)
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


def torch_server():
    """The PyTorch side of the grid, in a process of its own: one JSON request per line on
    stdin, one JSON answer per line on stdout; the first line out says what PyTorch this is.
    ``{"point": {...}}`` sets up and calibrates a grid point (eager, and with ``"compiled":
    true`` in the point also compiled), ``{"round": true}`` times it once (each of them)."""
    print(json.dumps(_torch_labels()), flush=True)
    data, turns = {}, None
    for line in sys.stdin:
        request = json.loads(line)
        if "point" in request:
            point = request["point"]
            key = (point["examples"], point["seed"])
            if key not in data:
                data[key] = _grid_data(GRID_INPUTS, GRID_OUTPUTS, *key)
            runs = [_torch_run(point["mode"], point["width"], point["batch"], data[key],
                               compiled=compiled)
                    for compiled in (False, True)[:1 + bool(point.get("compiled"))]]
            turns = _Turns(runs, point["min_time"])
            answer = {"epochs_per_run": turns.epochs}
        else:
            turns.round()
            answer = {"seconds_per_epoch": [times[-1] for times in turns.times]}
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
    sides = ("torch", "speedup"), ("torch_compiled", "speedup_vs_compiled")
    for index, (key, speedup) in enumerate(sides[:len(theirs[0]) if theirs else 0]):
        runs = [seconds[index] for seconds in theirs]     # theirs: one list per round
        for result in results:
            result.update({f"{key}_seconds_per_epoch": min(runs),
                           f"{key}_epochs_per_run": epochs[index], f"{key}_runs": runs,
                           f"{key}_spread": max(runs) / min(runs),
                           speedup: min(runs) / result["seconds_per_epoch"]})
    return results, error


def default_engines():
    """The grid's engines: the NumPy engine, and beside it ``native_fused`` (its element-wise
    steps compiled by Numba) where Numba is there."""
    return ["native_float"] + (["native_fused"] if fused_unavailable() is None else [])


def run_grid(widths=GRID_WIDTHS, batches=GRID_BATCHES, modes=GRID_MODES, engines=None,
             examples=GRID_EXAMPLES, repeats=5, min_time=0.1, with_torch=True, breakdown=True,
             torch_compile=False):
    """nnlib's seconds per epoch on a grid of hidden widths and batch sizes, beside eager PyTorch's
    where it is installed (and ``torch_compile``: PyTorch's with ``torch.compile``); a JSON-ready
    dict with the figures and the labels they need.

    PyTorch runs in a process of its own (this one never imports it), and the two take turns."""
    import scipy
    started, missing = {}, {}
    for name in engines or default_engines():
        try:
            started[name] = BENCH_ENGINES[name]()
        except nn.EngineUnavailable as reason:
            print(f"skipping {name}: {reason}", file=sys.stderr)
            missing[name] = str(reason)
    if engines is None and "native_fused" not in started:
        missing["native_fused"] = f"Numba's loops unavailable: {fused_unavailable()}"
    result = {
        "benchmark": "grid",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(), "load_average": {"start": list(os.getloadavg())},
        "python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
        "blas": blas_info(), "torch": None, "torch_missing": None, "engines_missing": missing,
        "network": {"inputs": GRID_INPUTS, "hidden": "tanh", "outputs": GRID_OUTPUTS,
                    "output_activation": "sigmoid", "cost": "quadratic", "dtype": "float32"},
        "settings": {"widths": list(widths), "batches": list(batches), "modes": list(modes),
                     "engines": list(started), "examples": examples, "eta": GRID_ETA,
                     "repeats": repeats, "min_time": min_time, "seed": 0,
                     "settle_seconds": SETTLE_SECONDS, "torch_compile": torch_compile},
        "points": []}
    torch_side = None
    if not with_torch:
        result["torch_missing"] = "--no-torch"
    elif not torch_installed():
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
                             "examples": examples, "seed": 0, "compiled": torch_compile}
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


def _grid_rows(settings, points, cell):
    """The lines of a grid table: one per mode and width, with ``cell(point)`` for each batch."""
    return [f"{mode:<6}{width:>5} " + "".join(cell(points[mode, width, batch])
                                            for batch in settings["batches"])
            for mode in settings["modes"] for width in settings["widths"]]


def _times_cell(point, side="torch", speedup="speedup"):
    """nnlib's and PyTorch's seconds per epoch at one point, and the speedup (``side``
    "torch_compiled": PyTorch's with torch.compile)."""
    ratio = f"{point[speedup]:.2f}x" if speedup in point else "-"
    return (f"| {_duration(point['seconds_per_epoch']):>8}"
            f"{_duration(point.get(f'{side}_seconds_per_epoch')):>8}{ratio:>9} ")


def _shares_cell(point):
    """The shares of nnlib's epoch at one point: the products, the data path, the rest."""
    split = point["breakdown"]
    shares = [None if split[k] is None else split[k] / point["seconds_per_epoch"]
              for k in ("gemm", "data", "rest")]
    return "| " + "".join("     -" if s is None else f"{s:>6.0%}" for s in shares) + " "


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
        lines += _grid_rows(settings, points, _times_cell)
        unsteady = [f"{p['mode']} H={p['width']} B={p['batch']} ({side} {p[key]:.2f}x)"
                    for p in points.values()
                    for side, key in (("nnlib", "spread"), ("torch", "torch_spread"))
                    if p.get(key, 1.0) > UNSTEADY]
        if unsteady:
            lines += textwrap.wrap(f"unsteady (slowest run over {UNSTEADY}x the best: the "
                                   "machine was busy): " + ", ".join(unsteady), 100,
                                   subsequent_indent="    ")
        if any("speedup_vs_compiled" in p for p in points.values()):
            lines += ["", f"{name} against PyTorch with torch.compile (its first epoch, the "
                          "compilation, not timed):",
                      head + "".join(f"| {'B=' + str(b):^26}" for b in batches),
                      " " * len(head) + f"| {'nnlib':>8}{'compiled':>9}{'speedup':>8} "
                      * len(batches)]
            lines += _grid_rows(settings, points, partial(
                _times_cell, side="torch_compiled", speedup="speedup_vs_compiled"))
        if not any("breakdown" in p for p in points.values()):
            continue
        lines += ["", f"{name}, where the epoch goes (share of nnlib's seconds per epoch):",
                  "gemm: the matrix products alone; data: nn.train with the compute skipped "
                  "(shuffle, gather, transfer);",
                  "rest: what is left (element-wise work, bias, cost, Python calls)",
                  head + "".join(f"| {'B=' + str(b):^19}" for b in batches),
                  " " * len(head) + f"| {'gemm':>6}{'data':>6}{'rest':>6} " * len(batches)]
        lines += _grid_rows(settings, points, _shares_cell)
    return "\n".join(line.rstrip() for line in lines)
