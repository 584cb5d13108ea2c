"""The OpenCL engine: matrices are pyopencl arrays on one device, BLAS is CLBlast (pyclblast).

Matrix products (``gemm``, ``gemv``, ``ger``) and the level-1 routines (``axpy``, ``scal``,
``nrm2``) go to CLBlast. The element-wise work (activations, their derivatives, ``mul``, ``fill``)
runs in a few small kernels of our own, compiled once when the engine starts. On a machine without a
GPU, PoCL (``pip install "pyopencl[pocl]"``) provides an OpenCL device on the CPU, so this engine
runs everywhere; it is slower there than NumPy, but it computes exactly what it would on a GPU.

Every operation is *queued*: it returns at once, and the device works through the queue in order.
Reading a result back (``to_numpy``, ``nrm2``) or ``synchronize()`` waits for it.
"""

import ctypes
import ctypes.util

import numpy as np

from .base import Engine, EngineUnavailable

try:
    import pyopencl as cl
    import pyopencl.array as cla
except ImportError:  # reported by opencl_float(), not at import time
    cl = cla = None
try:
    import pyclblast
except ImportError:
    pyclblast = None

__all__ = ["OpenCLEngine", "opencl_float"]

# One program for all the element-wise kernels. Each array comes as a buffer and an offset in
# elements, because an engine matrix may be a view that starts inside a larger buffer.
_SOURCE = """
// sech(x)^2 = 4 e / (1 + e)^2 with e = exp(-2|x|): no cosh to overflow, and the large-|x| limit
// comes out as exactly 0 (e underflows) instead of 1 / inf or inf / inf
inline float sech2(float x) {
    float e = exp(-2.0f * fabs(x));
    return 4.0f * e / ((1.0f + e) * (1.0f + e));
}

#define UNARY(name, expr)                                                                      \\
__kernel void name(__global float *out, ulong o, __global const float *src, ulong so) {       \\
    size_t i = get_global_id(0);                                                               \\
    float x = src[so + i];                                                                     \\
    out[o + i] = (expr);                                                                       \\
}

UNARY(nn_tanh, tanh(x))
UNARY(nn_tanh_prime, sech2(x))
UNARY(nn_sigmoid, 0.5f * tanh(0.5f * x) + 0.5f)
UNARY(nn_sigmoid_prime, 0.25f * sech2(0.5f * x))

__kernel void nn_mul(__global float *out, ulong o, __global const float *x, ulong xo,
                     __global const float *y, ulong yo) {
    size_t i = get_global_id(0);
    out[o + i] = x[xo + i] * y[yo + i];
}

// raises a flag (sets it to 1) if any entry is NaN or infinite; every writer writes the same value
__kernel void nn_nonfinite(__global float *flag, ulong o, __global const float *x, ulong xo) {
    if (!isfinite(x[xo + get_global_id(0)])) flag[o] = 1.0f;
}

__kernel void nn_fill(__global float *out, ulong o, float value) {
    out[o + get_global_id(0)] = value;
}
"""

# Argument types of each kernel, set once so that calls can pass Python numbers: None marks a
# buffer, np.uint64 the offset that follows it.
_ARRAY = [None, np.uint64]
_SIGNATURES = {
    "nn_tanh": 2 * _ARRAY,
    "nn_tanh_prime": 2 * _ARRAY,
    "nn_sigmoid": 2 * _ARRAY,
    "nn_sigmoid_prime": 2 * _ARRAY,
    "nn_mul": 3 * _ARRAY,
    "nn_fill": _ARRAY + [np.float32],
    "nn_nonfinite": 2 * _ARRAY,
}

_UNAVAILABLE = "OpenCL engine unavailable: "


def _event_releaser():
    """``clReleaseEvent`` from the OpenCL loader pyclblast links to
    (a no-op where it is not found)."""
    try:
        library = ctypes.CDLL(ctypes.util.find_library("OpenCL") or "libOpenCL.so.1")
    except OSError:
        return lambda pointer: None
    library.clReleaseEvent.argtypes = [ctypes.c_void_p]
    return lambda pointer: library.clReleaseEvent(ctypes.c_void_p(pointer))


_release_event = _event_releaser()
_POCL_FIX = '(pip install "pyopencl[pocl]" gives a CPU device)'


class OpenCLEngine(Engine):
    """Matrices are C-ordered float32 pyopencl arrays on one device,
    worked on by one in-order queue."""

    name = "opencl_float"
    dtype = np.dtype(np.float32)

    def __init__(self, device):
        self.device = device
        self.context = cl.Context([device])
        self.queue = cl.CommandQueue(self.context)
        program = cl.Program(self.context, _SOURCE).build()
        # fetched once: pyopencl warns when kernels are looked up again on every call
        self._kernels = {}
        for kernel_name, signature in _SIGNATURES.items():
            kernel = getattr(program, kernel_name)
            kernel.set_scalar_arg_dtypes(signature)
            self._kernels[kernel_name] = kernel
        # CLBlast writes nrm2's result into a device buffer; pyclblast 1.4 insists it be 2-D
        self._norm = cla.empty(self.queue, (1, 1), self.dtype)
        self._flag = cla.zeros(self.queue, (1,), self.dtype)

    def __repr__(self):
        return f"<{self.name} engine, {self.dtype}, on {self.device.name.strip()}>"

    def owns(self, x):
        return (isinstance(x, cla.Array) and x.dtype == self.dtype and x.ndim in (1, 2)
                and x.context == self.context)

    def zeros(self, shape):
        return cla.zeros(self.queue, shape, self.dtype)

    # Copies go through enqueue_copy rather than Array.set/get: those keep each copy's event, and
    # with it the host array, in the array's event list (up to a dozen of them), so repeated reads
    # of a large matrix would hold many host copies alive.

    def _from_host(self, host, dest):
        offset = self._offset(dest)  # refuses a released matrix
        cl.enqueue_copy(self.queue, dest.base_data, host, dst_offset=offset * self.dtype.itemsize,
                        is_blocking=True)

    def _to_host(self, x):
        offset = self._offset(x)  # refuses a released matrix
        host = np.empty(x.shape, self.dtype)
        cl.enqueue_copy(self.queue, host, x.base_data, src_offset=offset * self.dtype.itemsize,
                        is_blocking=True)
        return host

    def release(self, x):
        """Free the device buffer of ``x`` now, without waiting for the garbage collector.

        Using freed memory can crash Python, so ``x`` forgets its buffer: a later use of ``x``
        fails with an error instead. The whole buffer goes, so views that share it (``view``)
        must not be used either; they cannot be told. Releasing twice is harmless."""
        buffer, x.base_data = x.base_data, None
        if buffer is not None:
            try:
                buffer.release()
            except cl.LogicError:  # already released elsewhere (through another view)
                pass

    def synchronize(self):
        self.queue.finish()

    def close(self):
        """Wait for queued work, then free the engine's own buffer and kernels."""
        if self._kernels:
            self.queue.finish()
            self.release(self._norm)
            self.release(self._flag)
            self._kernels = {}

    # ---- how kernels and CLBlast see an array ----

    def _offset(self, x):
        """Where ``x`` starts in its buffer, in elements (kernels and CLBlast index from there).

        Also the place that refuses arrays the flat indexing would get wrong."""
        if x.base_data is None:
            raise ValueError("this matrix was released (eng.release); create a new one")
        if not x.flags.c_contiguous:
            raise ValueError(f"the {self.name} engine needs C-contiguous matrices, "
                             f"got shape {x.shape} with strides {x.strides}")
        return x.offset // x.dtype.itemsize

    @staticmethod
    def _forget(event):
        """Drop the extra reference pyclblast 1.4 keeps on each returned event.

        pyclblast wraps CLBlast's event with ``Event.from_int_ptr``, which retains it, and the
        original reference is never released: about 300 bytes leak per call (measured on PoCL),
        5 kB an epoch. Releasing a queued event is safe; OpenCL frees it once the command is done.
        """
        _release_event(event.int_ptr)

    def _flat(self, x):
        """``x`` as a 1-D array over the same memory: CLBlast's vector routines accept only 1-D."""
        return x if x.ndim == 1 else x.reshape(x.size)

    def _run(self, kernel_name, out, *inputs, scalar=()):
        """Run one of our element-wise kernels over every entry of ``out``."""
        for x in inputs:
            if x.shape != out.shape:
                raise ValueError(f"shapes differ: {x.shape} and {out.shape}")
        args = [out.base_data, self._offset(out)]
        for x in inputs:
            args += [x.base_data, self._offset(x)]
        if out.size:
            self._kernels[kernel_name](self.queue, (out.size,), None, *args, *scalar)
        return out

    # ---- BLAS-like ----

    def gemm(self, alpha, a, b, beta, c, trans_a=False, trans_b=False):
        m, k = a.shape[::-1] if trans_a else a.shape
        k_b, n = b.shape[::-1] if trans_b else b.shape
        if k != k_b or c.shape != (m, n):
            raise ValueError(f"gemm shapes do not fit: op(a) is {m}x{k}, op(b) is {k_b}x{n}, "
                             f"c is {c.shape[0]}x{c.shape[1]}")
        # row-major storage: a row of a stored matrix is its leading dimension, whatever op() does
        self._forget(pyclblast.gemm(self.queue, m, n, k, a, b, c,
                       a.shape[1], b.shape[1], c.shape[1],
                       alpha=alpha, beta=beta, a_transp=bool(trans_a), b_transp=bool(trans_b),
                       a_offset=self._offset(a), b_offset=self._offset(b),
                       c_offset=self._offset(c)))
        return c

    def gemv(self, alpha, a, x, beta, y, trans_a=False):
        rows, cols = a.shape
        if (x.size, y.size) != ((rows, cols) if trans_a else (cols, rows)):
            raise ValueError(f"gemv shapes do not fit: a is {rows}x{cols}"
                             f"{' (transposed)' if trans_a else ''}, "
                             f"x has {x.size}, y has {y.size}")
        if beta == 0.0:
            # BLAS promises that beta = 0 ignores y, but CLBlast's gemv still multiplies it by 0,
            # so a NaN or inf left in y would survive; start from zeros instead
            self.fill(y, 0.0)
        self._forget(pyclblast.gemv(self.queue, rows, cols, a, x, y, cols,
                       alpha=alpha, beta=beta,
                       a_transp=bool(trans_a), a_offset=self._offset(a),
                       x_offset=self._offset(x), y_offset=self._offset(y)))
        return y

    def ger(self, alpha, x, y, a):
        rows, cols = a.shape
        if (x.size, y.size) != (rows, cols):
            raise ValueError(f"ger shapes do not fit: a is {rows}x{cols}, "
                             f"x has {x.size}, y has {y.size}")
        self._forget(pyclblast.ger(self.queue, rows, cols, x, y, a, cols, alpha=alpha,
                      x_offset=self._offset(x), y_offset=self._offset(y), a_offset=self._offset(a)))
        return a

    def axpy(self, alpha, x, y):
        if x.shape != y.shape:
            raise ValueError(f"shapes differ: {x.shape} and {y.shape}")
        self._forget(pyclblast.axpy(self.queue, x.size, self._flat(x), self._flat(y), alpha=alpha,
                       x_offset=self._offset(x), y_offset=self._offset(y)))
        return y

    def scal(self, alpha, x):
        self._forget(pyclblast.scal(self.queue, x.size, self._flat(x), alpha=alpha,
                       x_offset=self._offset(x)))
        return x

    def copy(self, x, y):
        if x.shape != y.shape:
            raise ValueError(f"shapes differ: {x.shape} and {y.shape}")
        src, dst = self._offset(x), self._offset(y)
        if x.base_data != y.base_data or src != dst:  # OpenCL refuses a copy onto itself
            cl.enqueue_copy(self.queue, y.base_data, x.base_data, byte_count=x.nbytes,
                            src_offset=x.offset, dst_offset=y.offset)
        return y

    def fill(self, x, value):
        return self._run("nn_fill", x, scalar=(value,))

    def all_finite(self, x):
        """Checked on the device: one flag comes back to the host, not the whole matrix."""
        self.fill(self._flag, 0.0)
        if x.size:
            self._kernels["nn_nonfinite"](self.queue, (x.size,), None, self._flag.base_data,
                                          self._offset(self._flag), x.base_data, self._offset(x))
        return bool(self._to_host(self._flag)[0] == 0)

    def nrm2(self, x):
        self._forget(pyclblast.nrm2(self.queue, x.size, self._flat(x), self._norm,
                       x_offset=self._offset(x)))
        return float(self._to_host(self._norm)[0, 0])

    # ---- element-wise ----

    def mul(self, x, y, out):
        return self._run("nn_mul", out, x, y)

    def tanh(self, x, out):
        return self._run("nn_tanh", out, x)

    def tanh_prime(self, x, out):
        return self._run("nn_tanh_prime", out, x)

    def sigmoid(self, x, out):
        return self._run("nn_sigmoid", out, x)

    def sigmoid_prime(self, x, out):
        return self._run("nn_sigmoid_prime", out, x)


def _devices():
    """Every OpenCL device of every platform, and whether any platform was found at all."""
    try:
        platforms = cl.get_platforms()
    except cl.Error:  # the ICD loader reports "no platform" as an error
        return [], False
    devices = []
    for platform in platforms:
        try:
            devices += platform.get_devices()
        except cl.Error:  # a platform without devices
            pass
    return devices, bool(platforms)


def _pick(devices, device):
    """The device asked for: None = the first GPU, else the first device; an int = by index over
    all devices; a str = the first device whose name contains it."""
    if device is None:
        gpus = [d for d in devices if d.type & cl.device_type.GPU]
        return (gpus or devices)[0]
    if isinstance(device, int) and not isinstance(device, bool):
        if 0 <= device < len(devices):
            return devices[device]
    elif isinstance(device, str):
        for d in devices:
            if device in d.name:
                return d
    else:
        raise TypeError(f"device must be None, an index or part of a name, got {device!r}")
    listing = "; ".join(f"{i}: {d.name.strip()} ({d.platform.name.strip()})"
                        for i, d in enumerate(devices))
    raise EngineUnavailable(f"{_UNAVAILABLE}no OpenCL device {device!r} here; "
                            f"the devices are {listing}")


def opencl_float(device=None):
    """The OpenCL engine in float32 on ``device`` (see :func:`_pick`),
    or EngineUnavailable saying why."""
    if cl is None:
        raise EngineUnavailable(f"{_UNAVAILABLE}pyopencl is not installed "
                                '(pip install "pyopencl[pocl]")')
    if pyclblast is None:
        raise EngineUnavailable(f"{_UNAVAILABLE}pyclblast is not installed "
                                "(apt-get install libclblast-dev, then pip install pyclblast)")
    devices, any_platform = _devices()
    if not devices:
        reason = "no OpenCL device found" if any_platform else "no OpenCL platform found"
        raise EngineUnavailable(f"{_UNAVAILABLE}{reason} {_POCL_FIX}")
    chosen = _pick(devices, device)
    try:
        return OpenCLEngine(chosen)
    except cl.Error as e:  # a driver that lists a device but cannot run it
        raise EngineUnavailable(f"{_UNAVAILABLE}{chosen.name.strip()} does not start: {e}") from e
