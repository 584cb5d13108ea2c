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

from .base import RELEASED, Engine, EngineUnavailable, ReleasedBuffers, misfit

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
// no fused multiply-adds: 1 - a * a rounds the product first, as NumPy does, so that every engine
// computes the same float32 numbers
#pragma OPENCL FP_CONTRACT OFF

#define UNARY(name, expr)                                                                      \\
__kernel void name(__global float *out, ulong o, __global const float *src, ulong so) {       \\
    size_t i = get_global_id(0);                                                               \\
    float x = src[so + i];                                                                     \\
    out[o + i] = (expr);                                                                       \\
}

UNARY(nn_tanh, tanh(x))
UNARY(nn_tanh_prime_from_output, 1.0f - x * x)
UNARY(nn_sigmoid, 0.5f * tanh(0.5f * x) + 0.5f)
UNARY(nn_sigmoid_prime_from_output, x * (1.0f - x))

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
    "nn_tanh_prime_from_output": 2 * _ARRAY,
    "nn_sigmoid": 2 * _ARRAY,
    "nn_sigmoid_prime_from_output": 2 * _ARRAY,
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

# The buffers released while views of them live on: a view still holds its buffer, and using a
# freed buffer crashes the process (PoCL: a segmentation fault), so every operand is looked up.
_released = ReleasedBuffers()


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

    def _foreign(self, x):
        if isinstance(x, cla.Array) and x.dtype == self.dtype and x.ndim in (1, 2):
            return "it belongs to another OpenCL context, another opencl_float() engine"
        return None

    def is_released(self, x):
        data = x.base_data
        return (data is None and x.size > 0) or id(data) in _released

    def zeros(self, shape):
        return cla.zeros(self.queue, shape, self.dtype)

    # Copies go through enqueue_copy rather than Array.set/get: those keep each copy's event, and
    # with it the host array, in the array's event list (up to a dozen of them), so repeated reads
    # of a large matrix would hold many host copies alive.

    def _from_host(self, host, dest):
        offset = self._offset(dest)  # refuses a released matrix
        if dest.size:   # an empty matrix has no buffer
            cl.enqueue_copy(self.queue, dest.base_data, host,
                            dst_offset=offset * self.dtype.itemsize, is_blocking=True)

    def _to_host(self, x):
        offset = self._offset(x)  # refuses a released matrix
        host = np.empty(x.shape, self.dtype)
        if x.size:
            cl.enqueue_copy(self.queue, host, x.base_data,
                            src_offset=offset * self.dtype.itemsize, is_blocking=True)
        return host

    def release(self, x):
        """Free the device buffer of ``x`` now, without waiting for the garbage collector.

        Using freed memory can crash Python, so ``x`` forgets its buffer, and the buffer is
        recorded: a later use of ``x``, or of any view that shares the buffer, fails with an error
        instead. Releasing twice is harmless."""
        super().release(x)
        buffer, x.base_data = x.base_data, None
        if buffer is not None and id(buffer) not in _released:   # not yet, through another view
            _released.add(buffer)
            buffer.release()

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

        Also the place that refuses released matrices, and arrays the flat indexing would get
        wrong."""
        data = x.base_data
        if data is None or (_released and id(data) in _released):
            if x.size or data is not None:
                raise ValueError(RELEASED)
            return 0   # an empty matrix, which pyopencl gives no buffer
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

    # Each operation takes its operands' offsets first: that refuses a released operand before
    # anything is queued.

    def gemm(self, alpha, a, b, beta, c, trans_a=False, trans_b=False):
        a_offset, b_offset, c_offset = self._offset(a), self._offset(b), self._offset(c)
        m, k = a.shape[::-1] if trans_a else a.shape
        k_b, n = b.shape[::-1] if trans_b else b.shape
        if k != k_b or c.shape != (m, n):
            raise misfit("gemm", op_a=(m, k), op_b=(k_b, n), c=c.shape)
        # row-major storage: a row of a stored matrix is its leading dimension, whatever op() does
        self._forget(pyclblast.gemm(self.queue, m, n, k, a, b, c,
                       a.shape[1], b.shape[1], c.shape[1],
                       alpha=alpha, beta=beta, a_transp=bool(trans_a), b_transp=bool(trans_b),
                       a_offset=a_offset, b_offset=b_offset, c_offset=c_offset))
        return c

    def gemv(self, alpha, a, x, beta, y, trans_a=False):
        a_offset, x_offset, y_offset = self._offset(a), self._offset(x), self._offset(y)
        rows, cols = a.shape
        op_rows, op_cols = (cols, rows) if trans_a else (rows, cols)
        if x.shape != (op_cols,) or y.shape != (op_rows,):
            raise misfit("gemv", op_a=(op_rows, op_cols), x=x.shape, y=y.shape)
        if beta == 0.0:
            # BLAS promises that beta = 0 ignores y, but CLBlast's gemv still multiplies it by 0,
            # so a NaN or inf left in y would survive; start from zeros instead
            self.fill(y, 0.0)
        self._forget(pyclblast.gemv(self.queue, rows, cols, a, x, y, cols,
                       alpha=alpha, beta=beta, a_transp=bool(trans_a),
                       a_offset=a_offset, x_offset=x_offset, y_offset=y_offset))
        return y

    def ger(self, alpha, x, y, a):
        x_offset, y_offset, a_offset = self._offset(x), self._offset(y), self._offset(a)
        rows, cols = a.shape
        if x.shape != (rows,) or y.shape != (cols,):
            raise misfit("ger", x=x.shape, y=y.shape, a=a.shape)
        self._forget(pyclblast.ger(self.queue, rows, cols, x, y, a, cols, alpha=alpha,
                      x_offset=x_offset, y_offset=y_offset, a_offset=a_offset))
        return a

    def axpy(self, alpha, x, y):
        x_offset, y_offset = self._offset(x), self._offset(y)
        if x.shape != y.shape:
            raise misfit("axpy", x=x.shape, y=y.shape)
        self._forget(pyclblast.axpy(self.queue, x.size, self._flat(x), self._flat(y), alpha=alpha,
                       x_offset=x_offset, y_offset=y_offset))
        return y

    def scal(self, alpha, x):
        x_offset = self._offset(x)
        self._forget(pyclblast.scal(self.queue, x.size, self._flat(x), alpha=alpha,
                       x_offset=x_offset))
        return x

    def copy(self, x, y):
        src, dst = self._offset(x), self._offset(y)
        if x.shape != y.shape:
            raise misfit("copy", x=x.shape, y=y.shape)
        if x.size and (x.base_data != y.base_data or src != dst):  # OpenCL refuses self-copies
            cl.enqueue_copy(self.queue, y.base_data, x.base_data, byte_count=x.nbytes,
                            src_offset=x.offset, dst_offset=y.offset)
        return y

    def fill(self, x, value):
        return self._run("nn_fill", x, scalar=(value,))

    def all_finite(self, x):
        """Checked on the device: one flag comes back to the host, not the whole matrix."""
        x_offset = self._offset(x)
        if not x.size:
            return True
        self.fill(self._flag, 0.0)
        self._kernels["nn_nonfinite"](self.queue, (x.size,), None, self._flag.base_data,
                                      self._offset(self._flag), x.base_data, x_offset)
        return bool(self._to_host(self._flag)[0] == 0)

    def nrm2(self, x):
        x_offset = self._offset(x)
        self._forget(pyclblast.nrm2(self.queue, x.size, self._flat(x), self._norm,
                       x_offset=x_offset))
        return float(self._to_host(self._norm)[0, 0])

    # ---- element-wise ----

    def mul(self, x, y, out):
        return self._run("nn_mul", out, x, y)

    def tanh(self, x, out):
        return self._run("nn_tanh", out, x)

    def tanh_prime_from_output(self, a, out):
        return self._run("nn_tanh_prime_from_output", out, a)

    def sigmoid(self, x, out):
        return self._run("nn_sigmoid", out, x)

    def sigmoid_prime_from_output(self, a, out):
        return self._run("nn_sigmoid_prime_from_output", out, a)


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
