"""Chapter 12's own kernels (nnlib.kernels) and tools/gpu-check.

The OpenCL kernels run on PoCL, against NumPy, on sizes that fit no tile; the CUDA kernels run on a
GPU where there is one, and on PoCL everywhere else through ``cuda_as_opencl``. What needs no
device at all (launch geometry, the error score, CuPy's side of the launch, gpu-check's cuBLAS
arguments and its no-GPU path) is tested on its own."""

import importlib.machinery
import importlib.util
import json
import math
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from conftest import engine
from nnlib import kernels
from nnlib.kernels import (CUDA_GEMMS, GEMMS, CudaKernels, Kernel, OpenCLKernels, measure,
                           product_error)

ROOT = Path(__file__).resolve().parent.parent
# tiny, thin, square, and each side just past a tile (16, 64 or 128) or short of one
SHAPES = [(1, 1, 1), (3, 5, 7), (17, 16, 15), (64, 128, 16), (65, 129, 17), (100, 1, 37),
          (1, 200, 3), (130, 70, 1)]
IDS = [f"{m}x{n}x{k}" for m, n, k in SHAPES]


def operands(m, n, k, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, k)).astype(np.float32),
            rng.standard_normal((k, n)).astype(np.float32))


# ---- no device ---------------------------------------------------------------------------------

@pytest.mark.parametrize("m, n", [(1, 1), (16, 16), (17, 15), (64, 128), (65, 129), (500, 3)])
def test_launch_size_covers_c_with_whole_work_groups(m, n):
    for kernel in GEMMS:
        (across, down), (cols, rows) = kernels.launch_size(kernel, m, n)
        assert (rows, cols) == kernel.group
        assert across % cols == 0 and down % rows == 0
        per_rows, per_cols = kernel.per_item
        # enough work-items to cover C, and less than one work-group too many in each direction
        assert m <= down * per_rows < m + rows * per_rows
        assert n <= across * per_cols < n + cols * per_cols


def test_each_step_raises_the_arithmetic_intensity():
    naive, tiled, blocked = GEMMS
    assert naive.intensity == 0.25                   # 2 floats (8 bytes) per multiply-add
    assert tiled.intensity == 4.0                    # 16 times the reuse
    assert blocked.intensity == pytest.approx(64 * 128 / (2 * 192))
    assert [g.label for g in GEMMS] == ["naive", "tiled", "blocked"]
    assert [g.name for g in CUDA_GEMMS] == [g.name for g in GEMMS]
    for opencl, cuda in zip(GEMMS, CUDA_GEMMS):     # the same launch, in both languages
        assert (opencl.group, opencl.per_item, opencl.shared) == (
            cuda.group, cuda.per_item, cuda.shared)


def test_product_error_is_below_1_for_correct_products_only():
    a, b = operands(40, 30, 500)
    assert product_error(a, b, (a.astype(np.float64) @ b).astype(np.float32)) < 0.01
    assert product_error(a, b, a @ b) < 1                   # NumPy's own float32 product
    wrong = a @ b
    wrong[3, 4] += 0.1                                   # 10 times the bound here
    assert product_error(a, b, wrong) > 1
    unwritten = a @ b
    unwritten[0, 0] = np.nan
    assert not product_error(a, b, unwritten) < 1
    zero_row = a.copy()
    zero_row[5] = 0                                      # its row of C must be exactly 0
    c = zero_row @ b
    assert product_error(zero_row, b, c) < 1
    c[5, 0] = 1e-30
    assert product_error(zero_row, b, c) == math.inf


class _StandInCuPy:
    """Just enough of CuPy for CudaKernels' host side: records every kernel launch."""

    def __init__(self):
        self.launches, self.compiled = [], []
        properties = {"name": b"Stand-in GPU", "multiProcessorCount": 4}
        self.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(
            getDeviceProperties=lambda device: properties))

    def RawModule(self, code):
        stand_in = self

        class Module:
            def get_function(self, name):
                stand_in.compiled.append((name, code))
                return lambda grid, block, args: stand_in.launches.append((name, grid, block,
                                                                            args))
        return Module()


class _StandInEngine:
    name = "cuda_float"
    device = types.SimpleNamespace(id=0)

    def check(self, x, what):
        return x


def test_cuda_launch_of_each_kernel_with_a_stand_in_for_cupy(monkeypatch):
    cupy = _StandInCuPy()
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    gpu = CudaKernels(_StandInEngine())
    assert gpu.device == "Stand-in GPU" and gpu.items == 4 * 2048
    a, b = operands(65, 129, 17)
    c = np.zeros((65, 129), np.float32)
    for kernel in CUDA_GEMMS:
        assert gpu.gemm(kernel, a, b, c) is c
        gpu.gemm(kernel, a, b, c)                       # compiled once, launched twice
    assert [name for name, _ in cupy.compiled] == [k.name for k in CUDA_GEMMS]
    grids = {name: (grid, block) for name, grid, block, _ in cupy.launches}
    # blocks of 16 x 16 threads; a grid of (across, down) blocks that covers the 65 x 129 C
    assert grids == {"gemm_naive": ((9, 5), (16, 16)), "gemm_tiled": ((9, 5), (16, 16)),
                     "gemm_blocked": ((2, 2), (16, 16))}
    name, grid, block, args = cupy.launches[0]
    assert [type(x) for x in args[:3]] == [np.int32] * 3 and args[:3] == (65, 129, 17)
    assert args[3] is a and args[4] is b and args[5] is c
    with pytest.raises(ValueError, match="shapes do not fit"):
        gpu.gemm(CUDA_GEMMS[0], a, a, c)


def test_precision_table_and_missing_gpu_results(tmp_path):
    assert kernels.read_gpu_results(tmp_path) == {}
    precision = {"modes": ["float32", "tf32"],
                 "products": [{"n": 4096, "mode": "float32", "call": "gemmEx", "gflops": 5e4},
                              {"n": 4096, "mode": "tf32", "call": "gemmEx", "gflops": 2e5}],
                 "error": {"float32": {"max_relative_to_bound": 0.004},
                           "tf32": {"max_relative_to_bound": 9.5}},
                 "article": {"float32": {"digits_vs_article": [7.1, 6.0, 5.2, 0.3]},
                             "tf32": {"digits_vs_article": [3.1, 2.9, 2.0, 0.0]}}}
    (tmp_path / "precision.json").write_text(json.dumps(precision))
    assert kernels.read_gpu_results(tmp_path)["precision"] == precision
    table = kernels.precision_table(precision).splitlines()
    assert len(table) == 3 and "4096" in table[0]
    assert table[2].split()[:3] == ["tf32", "200,000", "9.5"] and table[2].endswith("2.0")


# ---- tools/gpu-check ---------------------------------------------------------------------------

def gpu_check():
    """tools/gpu-check, imported as a module (it has no .py suffix)."""
    path = ROOT / "tools" / "gpu-check"
    loader = importlib.machinery.SourceFileLoader("gpu_check", str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def _column_major(flat, rows, cols, ld):
    """The rows x cols column-major matrix with leading dimension ld that starts at flat[0]."""
    return flat.reshape(-1, ld).T[:rows, :cols]


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True),
                                              (True, True)])
def test_gpu_check_asks_cublas_for_the_row_major_product(trans_a, trans_b):
    """gemmEx's arguments, played out as cuBLAS reads them (column-major), give op(A) op(B)."""
    m, n, k = 5, 3, 4
    rng = np.random.default_rng(2)
    a = rng.standard_normal((k, m) if trans_a else (m, k))
    b = rng.standard_normal((n, k) if trans_b else (k, n))
    op_1, op_2, rows, cols, inner, ld_1, ld_2, ld_c = gpu_check().gemm_ex_arguments(
        a.shape, b.shape, trans_a, trans_b)
    first = (_column_major(b.ravel(), inner, rows, ld_1).T if op_1
             else _column_major(b.ravel(), rows, inner, ld_1))
    second = (_column_major(a.ravel(), cols, inner, ld_2).T if op_2
              else _column_major(a.ravel(), inner, cols, ld_2))
    c = np.zeros(m * n)
    c.reshape(-1, ld_c).T[:rows, :cols] = first @ second     # what cuBLAS writes, in place
    expected = (a.T if trans_a else a) @ (b.T if trans_b else b)
    np.testing.assert_allclose(c.reshape(m, n), expected)


def test_gpu_check_without_a_gpu_says_so_and_exits_cleanly(tmp_path):
    hidden = tmp_path / "hidden" / "cupy"      # CuPy made unimportable, even on a GPU machine
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "hidden"))
    command = [sys.executable, str(ROOT / "tools" / "gpu-check"), str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "no NVIDIA GPU here" in done.stdout and "hidden by the test" in done.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["gpu"] is None and "hidden by the test" in summary["reason"]


# ---- OpenCL, on PoCL or any OpenCL device --------------------------------------------------------

@pytest.fixture(scope="module")
def opencl():
    eng = engine("opencl_float")
    return eng, OpenCLKernels(eng)


def run_on(eng, device, kernel, a_host, b_host):
    a, b = eng.matrix(a_host), eng.matrix(b_host)
    c = eng.fill(eng.zeros((a_host.shape[0], b_host.shape[1])), np.nan)
    device.gemm(kernel, a, b, c)
    result = eng.to_numpy(c)
    for matrix in (a, b, c):
        eng.release(matrix)
    return result


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
@pytest.mark.parametrize("kernel", GEMMS, ids=[g.label for g in GEMMS])
def test_opencl_kernels_match_numpy(opencl, kernel, shape):
    a, b = operands(*shape)
    assert product_error(a, b, run_on(*opencl, kernel, a, b)) < 1


@pytest.mark.parametrize("shape", SHAPES[2:6], ids=IDS[2:6])
@pytest.mark.parametrize("kernel", CUDA_GEMMS, ids=[g.label for g in CUDA_GEMMS])
def test_cuda_kernels_logic_on_pocl(opencl, kernel, shape):
    a, b = operands(*shape, seed=1)
    assert product_error(a, b, run_on(*opencl, kernels.cuda_as_opencl(kernel), a, b)) < 1


def test_roofline_kernels_of_both_languages_on_pocl(opencl):
    eng, device = opencl
    for peak, copy in [(kernels.PEAK, kernels.COPY),
                       (kernels.cuda_as_opencl(kernels.CUDA_PEAK),
                        kernels.cuda_as_opencl(kernels.CUDA_COPY))]:
        assert kernels.peak_gflops(device, peak, min_seconds=0.001) > 0
        assert kernels.bandwidth_gbs(device, copy, mb=1) > 0
        src = eng.matrix(np.arange(1000, dtype=np.float32))
        dst = eng.zeros((1000,))
        device.launch(copy, (1024,), (256,), src, dst, np.int32(1000))   # 24 with nothing to do
        np.testing.assert_array_equal(eng.to_numpy(dst), np.arange(1000))


def test_opencl_kernels_write_nothing_outside_c(opencl):
    import pyopencl as cl
    eng, device = opencl
    m, n, k = 65, 129, 17
    a_host, b_host = operands(m, n, k)
    a, b = eng.matrix(a_host), eng.matrix(b_host)
    for kernel in GEMMS:
        padded = np.full(m * n + 4096, 7.0, np.float32)     # C, then a margin that must stay 7
        buffer = cl.Buffer(eng.context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR,
                           hostbuf=padded)
        global_size, local_size = kernels.launch_size(kernel, m, n)
        device.launch(kernel, global_size, local_size, np.int32(m), np.int32(n), np.int32(k),
                      a, b, buffer)
        cl.enqueue_copy(eng.queue, padded, buffer)
        assert np.all(padded[m * n:] == 7.0), kernel.label
        assert product_error(a_host, b_host, padded[: m * n].reshape(m, n)) < 1


def test_opencl_kernels_refuse_what_they_cannot_compute(opencl):
    eng, device = opencl
    a, b, c = eng.zeros((4, 3)), eng.zeros((3, 5)), eng.zeros((4, 5))
    with pytest.raises(ValueError, match="shapes do not fit"):
        device.gemm(GEMMS[0], a, a, c)
    whole = eng.zeros((40,))
    view = eng.view(whole, (4, 5))
    offset_view = whole[20:].reshape(4, 5)
    device.gemm(GEMMS[0], a, b, view)                        # a view at the buffer's start
    with pytest.raises(ValueError, match="not views"):
        device.gemm(GEMMS[0], a, b, offset_view)
    with pytest.raises(TypeError):
        device.gemm(GEMMS[0], a, b, np.zeros((4, 5), np.float32))
    eng.release(c)
    with pytest.raises(ValueError, match="released"):
        device.gemm(GEMMS[0], a, b, c)


def test_a_changed_kernel_is_compiled_anew(opencl):
    from dataclasses import replace
    eng, device = opencl
    tiled = GEMMS[1]
    eight = replace(tiled, source=tiled.source.replace("#define TILE 16", "#define TILE 8"),
                    group=(8, 8), shared=(8, 8))
    a, b = operands(33, 17, 20)
    assert product_error(a, b, run_on(eng, device, eight, a, b)) < 1
    assert device.kernel(eight) is not device.kernel(tiled)


def test_measure_reports_what_the_roofline_needs(opencl, tmp_path, capsys):
    eng, device = opencl
    result = measure(device, eng, GEMMS, kernels.PEAK, kernels.COPY, sizes=(48,),
                     edge=(19, 23, 5), copy_mb=4, elementwise_n=4096, repeats=1)
    assert result["blas"] == "CLBlast" and result["peak_gflops"] > 0
    assert result["bandwidth_gbs"] > 0
    assert [r["kernel"] for r in result["products"]] == ["naive", "tiled", "blocked", "CLBlast"]
    assert all(r["error"] < 1 and r["gflops"] > 0 for r in result["products"])
    assert all(r["error"] < 1 for r in result["edge"]) and len(result["edge"]) == 4
    assert [r["op"] for r in result["elementwise"]] == ["mul", "tanh", "sigmoid"]
    assert json.loads(json.dumps(result)) == result           # plain JSON, as gpu-check writes it
    import matplotlib
    matplotlib.use("Agg")
    assert kernels.plot_roofline(result).get_xscale() == "log"
    assert "naive" in kernels.product_table(result["products"])
    # the chapter's GPU cell, on files shaped as gpu-check writes them
    assert kernels.show_gpu_results(tmp_path) is None
    assert "No GPU results here" in capsys.readouterr().out
    labels = {"date": "2026-11-26T12:00:00+00:00", "driver_version": 13000}
    (tmp_path / "kernels.json").write_text(json.dumps(
        {"machine": labels, "stage": "kernels", "status": "done", **result}))
    assert "kernels" in kernels.show_gpu_results(tmp_path)
    shown = capsys.readouterr().out
    assert result["device"] in shown and "driver 13000" in shown and "blocked" in shown


# ---- CUDA, where there is a GPU ------------------------------------------------------------------

@pytest.fixture(scope="module")
def cuda():
    eng = engine("cuda_float")
    return eng, CudaKernels(eng)


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
@pytest.mark.parametrize("kernel", CUDA_GEMMS, ids=[g.label for g in CUDA_GEMMS])
def test_cuda_kernels_match_numpy(cuda, kernel, shape):
    a, b = operands(*shape)
    assert product_error(a, b, run_on(*cuda, kernel, a, b)) < 1


def test_cuda_measure_reports_what_the_roofline_needs(cuda):
    eng, device = cuda
    result = measure(device, eng, CUDA_GEMMS, kernels.CUDA_PEAK, kernels.CUDA_COPY,
                     sizes=(256,), edge=(19, 23, 5), copy_mb=16, elementwise_n=2**16, repeats=1)
    assert result["blas"] == "cuBLAS" and result["peak_gflops"] > result["bandwidth_gbs"] > 0
    assert all(r["error"] < 1 for r in result["products"] + result["edge"])
