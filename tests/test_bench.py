"""The benchmark harness runs and reports what it promises: figures checked for sense, not speed."""

import json

import pytest

from nnlib import bench


def test_epoch_flops_counts_every_product():
    # one layer: forward W x and the weight update, no propagation below the first layer
    assert bench.epoch_flops(3, (2,), 5) == 2 * (2 * 5 * 3) * 2
    # two layers add the second layer's forward, update and its propagation W^T delta
    assert bench.epoch_flops(3, (2, 4), 5) == 2 * 5 * (2 * 3 * 2 + 4 * 2 * 3)


def test_tiny_run_writes_the_documented_figures(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--size", "tiny", "--engines", "native_float", "--epochs", "2", "--json", str(out)])
    assert "native_float" in capsys.readouterr().out
    (result,) = json.loads(out.read_text())
    for key in ("engine", "size", "seconds_per_epoch", "gflops", "limit_gflops", "ratio",
                "bytes_allocated_per_epoch", "peak_rss_mb"):
        assert key in result
    assert result["engine"] == "native_float" and result["size"] == "tiny"
    assert result["seconds_per_epoch"] > 0 and result["gflops"] > 0 and result["limit_gflops"] > 0
    assert result["ratio"] == pytest.approx(result["gflops"] / result["limit_gflops"])
    assert result["bytes_allocated_per_epoch"] < 1e6      # preallocated buffers, in-place updates


def test_every_engine_trains_to_the_same_cost():
    costs = {r["engine"]: r["cost"] for r in bench.run("tiny", epochs=2)}
    reference = costs.pop("native_double")
    for engine, cost in costs.items():
        assert cost == pytest.approx(reference, rel=1e-4), engine
