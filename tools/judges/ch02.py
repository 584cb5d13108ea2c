"""Chapter 2, Engines: a bias and a row sum as one BLAS call each."""

import numpy as np

import nnlib as nn   # observe() finds np and nn in the kernel too

from . import expect, expect_close, question

CHAPTER = "02_engines"


@question("ex-ch2-bias")
class SubtractBias:
    def inputs(rng):
        rows, cols = rng.integers(2, 7, size=2)
        return {"host": rng.standard_normal((rows, cols)), "bias": rng.standard_normal(rows)}

    def observe(subtract_bias, host, bias):
        eng = nn.native_float()
        a = eng.matrix(host)
        returned = subtract_bias(eng, a, eng.matrix(bias))
        return {"a": eng.to_numpy(a), "same": returned is a}

    def judge(seen, host, bias):
        expected = host - bias[:, None]
        expect(not np.allclose(seen["a"], host + bias[:, None], atol=1e-5),
               "the bias was added: check the sign of alpha")
        expect_close(seen["a"], expected, "a is not a - bias in every column (in place)",
                     rtol=1e-5, atol=1e-5)
        expect(seen["same"], "subtract_bias must return a itself, changed in place")


@question("ex-ch2-gemv")
class RowSums:
    def inputs(rng):
        rows, cols = rng.integers(2, 9, size=2)
        return {"host": rng.standard_normal((rows, cols))}

    def observe(row_sums, host):
        eng = nn.native_float()
        sums = row_sums(eng, eng.matrix(host))
        return None if sums is None else eng.to_numpy(sums)

    def judge(sums, host):
        expect(sums is not None, "row_sums must return the vector of sums")
        expect(np.shape(sums) != (host.shape[1],) or host.shape[0] == host.shape[1],
               "one sum per row, not per column")
        expect_close(sums, host.sum(axis=1), "these are not the sums of the rows",
                     rtol=1e-5, atol=1e-5)
