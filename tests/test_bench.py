"""The benchmark harness runs and reports what it promises: figures checked for sense, not speed."""

import importlib.util
import json

import pytest

import nnlib as nn
from nnlib import bench, bench_grid


def test_epoch_flops_counts_every_product():
    # one layer: forward W x and the weight update, no propagation below the first layer
    assert bench.epoch_flops(3, (2,), 5) == 2 * (2 * 5 * 3) * 2
    # two layers add the second layer's forward, update and its propagation W^T delta
    assert bench.epoch_flops(3, (2, 4), 5) == 2 * 5 * (2 * 3 * 2 + 4 * 2 * 3)


def test_tiny_run_writes_the_documented_figures(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--size", "tiny", "--engines", "native_float", "--epochs", "2", "--rounds", "3",
                "--json", str(out)])
    assert "native_float" in capsys.readouterr().out
    (result,) = json.loads(out.read_text())
    for key in ("engine", "size", "seconds_per_epoch", "gflops", "limit_gflops", "ratio",
                "bytes_allocated_per_epoch", "peak_rss_mb", "train_runs", "gemm_runs"):
        assert key in result
    assert result["engine"] == "native_float" and result["size"] == "tiny"
    assert result["seconds_per_epoch"] > 0 and result["gflops"] > 0 and result["limit_gflops"] > 0
    assert result["ratio"] == pytest.approx(result["gflops"] / result["limit_gflops"])
    # the limit: the best of the rounds of products alone, timed in turns with the training
    assert len(result["train_runs"]) == len(result["gemm_runs"]) == result["rounds"] == 3
    assert result["seconds_per_epoch"] == min(result["train_runs"])
    assert result["limit_gflops"] == pytest.approx(
        bench.epoch_flops(*[bench.SIZES["tiny"][i] for i in range(3)])
        / min(result["gemm_runs"]) / 1e9)
    assert result["bytes_allocated_per_epoch"] < 1e6      # preallocated buffers, in-place updates


def test_every_engine_trains_to_the_same_cost():
    costs = {r["engine"]: r["cost"] for r in bench.run("tiny", epochs=2)}
    reference = costs.pop("native_double")
    for engine, cost in costs.items():
        assert cost == pytest.approx(reference, rel=1e-4), engine


TINY_GRID = ["--grid", "--widths", "8", "--batches", "5", "--examples", "20", "--repeats", "2",
             "--min-time", "0.001"]


def test_step_products_are_the_counted_products():
    # the grid's gemm timing calls exactly the products whose flops epoch_flops counts
    shapes = bench_grid.step_products(3, (4, 2), 5)
    flops = sum(2 * (a[1] if not ta else a[0]) * c[0] * c[1] for a, _, c, ta, _ in shapes)
    assert flops == bench.epoch_flops(3, (4, 2), 5)
    for a, b, c, trans_a, trans_b in shapes:
        rows, inner = a[::-1] if trans_a else a
        inner_b, cols = b[::-1] if trans_b else b
        assert (rows, cols) == c and inner == inner_b


def test_tiny_grid_reports_every_point_and_round_trips(tmp_path, capsys):
    out = tmp_path / "data" / "grid.json"
    result = bench.main(TINY_GRID + ["--no-torch", "--json", str(out)])
    printed = capsys.readouterr().out
    assert json.loads(out.read_text()) == result          # everything in it is plain JSON
    for label in ("machine", "date", "blas", "network", "settings", "load_average"):
        assert result[label], label
    assert result["torch"] is None and result["torch_missing"] == "--no-torch"
    assert result["machine"] in printed and "PyTorch: not measured" in printed
    engines = result["settings"]["engines"]
    assert engines == bench_grid.default_engines()       # the NumPy engine, fused where it can
    assert engines[0] == "native_float" and set(engines) <= {"native_float", "native_fused"}
    assert {(p["engine"], p["mode"], p["width"], p["batch"]) for p in result["points"]} == {
        (engine, mode, 8, 5) for engine in engines for mode in ("sgd", "train")}
    for point in result["points"]:
        assert "speedup" not in point
        assert point["steps_per_epoch"] == (1 if point["mode"] == "sgd" else 4)
        assert point["seconds_per_epoch"] == min(point["runs"]) > 0
        assert len(point["runs"]) == 2 and point["epochs_per_run"] >= 1
        split = point["breakdown"]
        assert split["gemm"] > 0
        assert (split["data"] is None) == (point["mode"] == "sgd")
        assert split["gemm"] + (split["data"] or 0) + split["rest"] == pytest.approx(
            point["seconds_per_epoch"])


def test_the_data_path_is_timed_without_the_compute():
    # nn.train with the network stubbed out must leave the network untouched
    eng = nn.native_float()
    x, y = bench_grid._grid_data(6, 3, 12)
    inference = nn.inference_network(eng, 6, [nn.fully_connected(4, nn.tanh),
                                              nn.fully_connected(3, nn.sigmoid)])
    eng.fill(inference.layers[0].weights, 0.5)
    before = eng.to_numpy(inference.layers[0].weights)
    run, built = bench_grid._data_path_run(inference, x, y, 4)
    run(2)
    assert built                                   # the stand-in was used: no compute was timed
    assert (eng.to_numpy(inference.layers[0].weights) == before).all()


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")
def test_tiny_grid_against_torch():
    result = bench.main(TINY_GRID + ["--modes", "train", "--engines", "native_float"])
    assert result["torch"]["version"] and result["torch"]["threads"] >= 1
    (point,) = result["points"]
    assert point["torch_seconds_per_epoch"] == min(point["torch_runs"]) > 0
    assert point["speedup"] == pytest.approx(point["torch_seconds_per_epoch"]
                                             / point["seconds_per_epoch"])


def test_chapter_6_shows_the_committed_grid():
    """Chapter 6 carries the grid in a hidden cell (a chapter opened alone has no data folder):
    it must be the measurement committed under book/data/, not a copy that drifted."""
    import ast
    import json
    from pathlib import Path

    import nbformat

    root = Path(__file__).resolve().parent.parent
    notebook = nbformat.read(root / "book" / "06_benchmark.ipynb", as_version=4)
    [cell] = [c for c in notebook.cells if "GRID = json.loads(" in c.source]
    assert "remove-cell" in cell.metadata.get("tags", [])
    call = next(node for node in ast.walk(ast.parse(cell.source))
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "loads")
    shown = json.loads(ast.literal_eval(call.args[0]))
    committed = json.loads((root / "book" / "data" / "grid-epyc-2core.json").read_text())
    assert shown == committed
