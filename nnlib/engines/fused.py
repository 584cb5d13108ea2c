"""``native_float(fused=True)``: the NumPy engine with its element-wise steps compiled by Numba.

NumPy runs an expression such as ``0.5 * tanh(0.5 * z) + 0.5`` as one pass over memory per
operator, each reading and writing the whole matrix. Here the steps of a training layer that
NumPy does in several passes are each one loop, which Numba compiles to vectorized machine code:
the sigmoid is one sweep instead of four, each derivative from the output one instead of two.
``tanh`` and ``mul`` are already one NumPy pass each and stay NumPy's, as does everything else
(products, ``ger``, ``gemv``, ``axpy``, the checks), so the matrices are the same NumPy arrays.

How it rounds: the derivatives compute what NumPy computes, operation by operation (no fused
multiply-adds), so they agree bit for bit. The sigmoid needs a ``tanh`` inside its loop, where
Numba would call the C library's scalar ``tanhf``, some 45 times slower than NumPy's vectorized
``tanh``; so the loop uses a rational approximation (the one Eigen uses for float32), and the
sigmoid differs from NumPy's by at most 4 units of 2^-24. tests/test_fused.py measures both.

Threads: the loops run on the calling thread. Numba's parallel loops were measured inside an
epoch on 2 cores and lost: with its OpenMP threads, which spin after each loop as OpenBLAS's do
after each product, an epoch took more than twice as long; with its workqueue threads, a few
percent longer (chapter 6 has the figures).

Numba compiles the loops when this module is imported and caches them on disk (``cache=True``),
so only the first use on a machine waits for the compiler (a second or two).
"""

import numba
import numpy as np

from .native import NativeEngine, _released

__all__ = ["FusedNativeEngine"]

f32 = np.float32

# tanh(x) = x P(x²) / Q(x²) on [-c, c], clamped beyond (tanh(c) rounds to 1 in float32); below
# TINY, tanh(x) rounds to x. Eigen's float32 coefficients (Eigen/src/Core/MathFunctionsImpl.h).
TANH_CLAMP, TANH_TINY = f32(7.90531110763549805), f32(0.0004)
P13, P11, P9, P7 = (f32(-2.76076847742355e-16), f32(2.00018790482477e-13),
                    f32(-8.60467152213735e-11), f32(5.12229709037114e-08))
P5, P3, P1 = f32(1.48572235717979e-05), f32(6.37261928875436e-04), f32(4.89352455891786e-03)
Q6, Q4, Q2, Q0 = (f32(1.19825839466702e-06), f32(1.18534705686654e-04),
                  f32(2.26843463243900e-03), f32(4.89352518554385e-03))

# The loops take C-contiguous float32 matrices and vectors, and nothing else (the engine sends
# any other layout to NumPy). error_model="numpy": a division by zero gives inf, as in NumPy,
# instead of raising, which is what lets LLVM vectorize the loops. No fastmath: each product is
# rounded before it is added, as NumPy does.
_UNARY = ["void(float32[:, ::1], float32[:, ::1])", "void(float32[::1], float32[::1])"]
_BINARY = ["void(float32[:, ::1], float32[:, ::1], float32[:, ::1])",
           "void(float32[::1], float32[::1], float32[::1])"]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _tanh(x):
    """float32 tanh as a rational function: arithmetic only, so the loop around it vectorizes."""
    c = min(max(x, -TANH_CLAMP), TANH_CLAMP)
    c2 = c * c
    p = ((((((P13 * c2 + P11) * c2 + P9) * c2 + P7) * c2 + P5) * c2 + P3) * c2 + P1) * c
    q = ((Q6 * c2 + Q4) * c2 + Q2) * c2 + Q0
    return x if abs(x) < TANH_TINY else p / q


@numba.njit(_UNARY, cache=True, error_model="numpy", nogil=True)
def _sigmoid(z, a):                    # a = 0.5 tanh(0.5 z) + 0.5, one sweep
    zf, af = z.reshape(z.size), a.reshape(a.size)
    for i in range(zf.size):
        af[i] = f32(0.5) * _tanh(f32(0.5) * zf[i]) + f32(0.5)


@numba.njit(_UNARY, cache=True, error_model="numpy", nogil=True)
def _tanh_prime(a, out):               # out = 1 - a², one sweep
    af, of = a.reshape(a.size), out.reshape(out.size)
    for i in range(af.size):
        of[i] = f32(1) - af[i] * af[i]


@numba.njit(_UNARY, cache=True, error_model="numpy", nogil=True)
def _sigmoid_prime(a, out):            # out = a (1 - a), one sweep; out may be a
    af, of = a.reshape(a.size), out.reshape(out.size)
    for i in range(af.size):
        of[i] = af[i] * (f32(1) - af[i])


class FusedNativeEngine(NativeEngine):
    """The float32 NumPy engine whose multi-pass element-wise steps are compiled loops (Numba)."""

    fused = True

    def __init__(self):
        super().__init__(np.float32)
        self.name = "native_fused"

    def __repr__(self):
        return (f"<native_fused engine, float32, element-wise loops compiled by "
                f"Numba {numba.__version__}>")

    def _loop(self, kernel, x, out):
        """``kernel(x, out)`` where it applies; False where NumPy's path must do the work: other
        shapes (NumPy broadcasts or refuses), layouts or dtypes, or ``out`` overlapping ``x``
        without being ``x`` (a loop would read entries it has already overwritten)."""
        if _released:
            _released.refuse(x, out)
        if x.shape != out.shape or (x is not out and np.may_share_memory(x, out)):
            return False
        try:
            kernel(x, out)
        except TypeError:      # no compiled version for these types: not C-contiguous float32
            return False
        return True

    def sigmoid(self, x, out):
        return out if self._loop(_sigmoid, x, out) else super().sigmoid(x, out)

    def tanh_prime_from_output(self, a, out):
        if self._loop(_tanh_prime, a, out):
            return out
        return super().tanh_prime_from_output(a, out)

    def sigmoid_prime_from_output(self, a, out):
        if self._loop(_sigmoid_prime, a, out):
            return out
        return super().sigmoid_prime_from_output(a, out)
