"""Chapter 12, Inside the engine: the tiled kernel with other tiles, and the least traffic of a
matrix product."""

import re

import numpy as np

from nnlib.bench import gemm_shapes
from nnlib.kernels import TILED

from . import Wrong, expect, question

CHAPTER = "12_inside_the_engine"
DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+TILE\b.*$", re.M)


def without_define(source):
    """A kernel's source without its ``#define TILE`` lines, its white space collapsed."""
    return " ".join(DEFINE.sub("", source).split())


@question("ex-ch12-tile")
class Tile:
    """nnlib.kernels has TILED (tile 16) but no function for other tiles: the answer is TILED
    with another #define and matching group and shared, which dataclasses.replace makes. The
    sandbox hides OpenCL and the grader runs no student kernel, so the judge reads the Kernel's
    fields for fresh tiles and asks for the book's TILED source with only the #define changed
    (white space aside): the source is all there is to tell a working kernel by."""

    def inputs(rng):
        tiles = rng.choice([t for t in range(2, 33) if t != 16], size=3, replace=False)
        return {"tiles": [int(t) for t in tiles] + [16]}

    def observe(tiled_kernel, tiles):
        fields = ("name", "source", "group", "shared", "per_item", "intensity")
        kernels = [tiled_kernel(tile) for tile in tiles]
        return [{"type": type(k).__name__, **{f: getattr(k, f, None) for f in fields}}
                for k in kernels]

    def judge(kernels, tiles):
        expect(len(kernels) == len(tiles), "one kernel per tile")
        for tile, kernel in zip(tiles, kernels):
            expect(kernel["type"] == "Kernel" and isinstance(kernel["source"], str),
                   "tiled_kernel must return a Kernel, like TILED")
            source = kernel["source"]
            expect(f"#define TILE {tile}\n" in source,
                   f"tile {tile}: the source must #define TILE {tile}")
            expect(len(DEFINE.findall(source)) == 1,
                   f"tile {tile}: the source must #define TILE once, as TILED does")
            expect(without_define(source) == without_define(TILED.source),
                   f"tile {tile}: the source must be TILED's with only its #define TILE changed")
            expect(kernel["name"] == "gemm_tiled",
                   "the kernel's name must stay gemm_tiled, its function in the source")
            expect(kernel["per_item"] == [1, 1],
                   "each work-item still computes one entry of C: per_item stays (1, 1)")
            expect(kernel["group"] == kernel["shared"] == [tile, tile],
                   f"tile {tile}: the work-group must match the tile, group and shared "
                   f"({tile}, {tile}); got group {kernel['group']} and shared {kernel['shared']}")
            expect(isinstance(kernel["intensity"], (int, float))
                   and np.isclose(kernel["intensity"], tile / 4),
                   f"tile {tile}: the kernel's intensity is not that of its tile")


@question("ex-ch12-bench")
class Bench:
    """nnlib has no such function (Kernel.intensity counts one block of C, not the whole
    product). The judge calls it on the check's shapes, the benchmark's products and fresh random
    shapes, and compares with the formula."""

    def inputs(rng):
        exact = [(1, 1, 1), (2, 3, 4), (512, 512, 512), (10, 10_000, 1000)]
        shapes = exact + gemm_shapes(10000, (5000, 1000, 10), 10000)
        shapes += [tuple(s) for s in rng.integers(1, 5000, size=(12, 3)).tolist()]
        return {"shapes": [list(s) for s in shapes]}

    def observe(least_traffic_intensity, shapes):
        return [least_traffic_intensity(m, n, k) for m, n, k in shapes]

    def judge(got, shapes):
        expect(None not in got, "least_traffic_intensity must return the intensity")
        try:
            got = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            raise Wrong("least_traffic_intensity must return one number, FLOPs per byte") from None
        expect(got.shape == (len(shapes),), "least_traffic_intensity must return one number")
        m, n, k = np.asarray(shapes, dtype=np.float64).T
        right = 2 * m * n * k / (4 * (m * k + k * n + m * n))
        expect(not np.allclose(got, 4 * right), "that counts floats: a float32 is 4 bytes")
        expect(not np.allclose(got, right / 2), "a multiply-add is 2 FLOPs: 2 m n k in all")
        expect(not np.allclose(got, 2 * m * n * k / (4 * (m * k + k * n))),
               "C is written once too: count its bytes with those of A and B")
        expect(np.allclose(got[:4], right[:4]),
               "wrong on the check's shapes: FLOPs per byte of reading A and B and writing C once")
        expect(np.allclose(got, right), "right on the check's shapes but not on other shapes, "
                                        "from the benchmark's products and random ones")
