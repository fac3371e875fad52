"""Helpers that generated kernels call (compiled once, shared by every kernel)."""

import numpy as np
from llvmlite import ir
from numba import int64, njit, types
from numba.core import cgutils
from numba.core.errors import RequireLiteralValue
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic, models, register_model


@njit(cache=True, nogil=True)
def grow(crd: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Double a sparse output's coordinate and value buffers (amortized O(1) appends)."""
    n = max(2 * vals.shape[0], 16)
    new_crd = np.empty((n, crd.shape[1]), dtype=crd.dtype)
    new_vals = np.empty(n, dtype=vals.dtype)
    new_crd[: crd.shape[0]] = crd
    new_vals[: vals.shape[0]] = vals
    return new_crd, new_vals


@njit(cache=True, nogil=True)
def insertion_sort(a: np.ndarray, n: int) -> None:
    """Sort a[:n] in place: for the short rows of a workspace, faster than a general sort."""
    for t in range(1, n):
        x = a[t]
        s = t
        while s > 0 and a[s - 1] > x:
            a[s] = a[s - 1]
            s -= 1
        a[s] = x


@njit(cache=True, nogil=True)
def order_touched(w_list: np.ndarray, w_mark: np.ndarray, stamp: int, n_w: int) -> None:
    """Sort a workspace's touched coordinates for a sorted output row (the one-pass path).

    A dense row is re-read from the marks in order (cheaper than sorting), a short one gets
    an insertion sort, anything else numpy's sort.
    """
    size = w_mark.shape[0]
    if n_w * 8 > size:
        n = 0
        for at in range(size):
            if w_mark[at] == stamp:
                w_list[n] = at
                n += 1
    elif n_w <= 32:
        insertion_sort(w_list, n_w)
    else:
        w_list[:n_w].sort()


@njit(cache=True, nogil=True)
def drain_row(w_list, w_bits, w_vals, n_w, lo, hi, out_crd, out_vals, base) -> None:
    """Write one workspace row, sorted, to ``out_crd/out_vals[base:base + n_w]``.

    The touched coordinates are both listed (``w_list``, in touch order) and set in a bitmap
    (``w_bits``, one bit per coordinate, within words lo // 64 .. hi // 64). A short row is
    insertion-sorted from its list; a longer one is read off the bitmap word by word, which
    is a sort for the price of a scan of span/64 words (numba's np.sort costs microseconds
    per call on short rows; measured, it made SpGEMM 6x slower than its accumulation).
    Either way the row's bitmap words are left zero for the next row.
    """
    n = int64(n_w)
    if n == 0:
        return
    first, last = int64(lo) >> 6, int64(hi) >> 6
    start = int64(base)
    if n * n < 4 * (last - first + 1) + 8 * n:
        insertion_sort(w_list, n)
        for t in range(n):
            at = int64(w_list[t])
            w_bits[at >> 6] = 0
            out_crd[start + t] = at
            out_vals[start + t] = w_vals[at]
        return
    t = start
    for word in range(first, last + 1):
        bits = w_bits[word]
        if bits == 0:
            continue
        w_bits[word] = 0
        offset = word << 6
        while bits != 0:
            at = offset + int64(trailing_zeros(bits))
            out_crd[t] = at
            out_vals[t] = w_vals[at]
            t += 1
            bits &= bits - np.uint64(1)


@njit(cache=True, nogil=True)
def sort_segments(pos: np.ndarray, crd: np.ndarray, vals: np.ndarray) -> None:
    """Sort each segment ``crd[pos[r]:pos[r+1]]`` in place, carrying ``vals`` along."""
    for r in range(pos.shape[0] - 1):
        lo, hi = pos[r], pos[r + 1]
        if hi - lo <= 32:
            for t in range(lo + 1, hi):
                x, v = crd[t], vals[t]
                s = t
                while s > lo and crd[s - 1] > x:
                    crd[s], vals[s] = crd[s - 1], vals[s - 1]
                    s -= 1
                crd[s], vals[s] = x, v
        else:
            order = np.argsort(crd[lo:hi])
            crd[lo:hi] = crd[lo:hi][order]
            vals[lo:hi] = vals[lo:hi][order]


# Reassociation and reciprocals, no flag that changes inf/nan semantics (as the kernels).
_FASTMATH = {"arcp", "contract", "nsz", "reassoc"}


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _shift_segments(pos: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Each segment ``vals[pos[r]:pos[r+1]]`` minus its maximum."""
    out = np.empty_like(vals)
    for r in range(pos.shape[0] - 1):
        lo, hi = np.uint64(pos[r]), np.uint64(pos[r + 1])
        if hi == lo:
            continue
        top = vals[lo]
        for t in range(lo, hi):
            x = vals[t]
            top = x if x > top else top
        for t in range(lo, hi):
            out[t] = vals[t] - top
    return out


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _normalize_segments(pos: np.ndarray, vals: np.ndarray) -> None:
    """Divide each segment by its sum, in place."""
    for r in range(pos.shape[0] - 1):
        lo, hi = np.uint64(pos[r]), np.uint64(pos[r + 1])
        total = vals.dtype.type(0)
        for t in range(lo, hi):
            total += vals[t]
        for t in range(lo, hi):
            vals[t] /= total


def softmax_segments(pos: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Softmax of each segment ``vals[pos[r]:pos[r+1]]`` (a CSR row): the row maxima and
    sums in compiled loops, the exponentials by numpy (SIMD; numba's scalar exp call costs
    tens of nanoseconds per entry)."""
    e = np.exp(_shift_segments(pos, vals))
    _normalize_segments(pos, e)
    return e


# --- short vectors: an SpMM row accumulated in registers ----------------------------------
# numba cannot tell LLVM that the output and the dense operand do not alias, so a loop that
# adds each nonzero's row into the output row goes through memory (a store-to-load chain)
# and vectorizes poorly. These intrinsics give generated kernels an LLVM vector value
# (<width x float>) that lives in registers across a sparse walk: 2.5-3x faster than the
# memory form on Cora at widths 16 and 64, measured.


class Vec(types.Type):
    """An LLVM vector of `count` elements of `dtype` (a value, not an array)."""

    def __init__(self, dtype: types.Type, count: int) -> None:
        self.dtype, self.count = dtype, count
        super().__init__(name=f"Vec({dtype} x {count})")


@register_model(Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type: Vec) -> None:
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.count))


def _literal(count: types.Type) -> int:
    if not isinstance(count, types.IntegerLiteral):
        raise RequireLiteralValue(count)
    return count.literal_value


def _pointer(context, builder, arrty, arr, offset, vty):
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [offset]), vty.as_pointer())


@intrinsic
def vzero(typingctx, like, count):
    """A zero vector of `like`'s dtype (`count` a literal)."""
    vt = Vec(like.dtype, _literal(count))

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vt), None)

    return vt(like, count), codegen


@intrinsic
def vload(typingctx, arr, offset, count):
    """``arr[offset:offset + count]`` of a flat contiguous array, as a vector."""
    vt = Vec(arr.dtype, _literal(count))

    def codegen(context, builder, sig, args):
        vty = context.get_value_type(vt)
        align = context.get_abi_sizeof(vty.element)
        ptr = _pointer(context, builder, sig.args[0], args[0], args[1], vty)
        return builder.load(ptr, align=align)

    return vt(arr, offset, count), codegen


@intrinsic
def vprefetch(typingctx, arr, offset, count):
    """Prefetch ``arr[offset:offset + count]`` into the caches: one ``llvm.prefetch`` (read,
    high locality) per 64-byte line of the row."""
    n = _literal(count)

    def codegen(context, builder, sig, args):
        size = context.get_abi_sizeof(context.get_value_type(sig.args[0].dtype))
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        start = builder.bitcast(builder.gep(data, [args[1]]), i8p)
        for line in range(0, n * size, 64):
            at = builder.gep(start, [ir.Constant(ir.IntType(64), line)])
            builder.call(fn, [at, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.none(arr, offset, count), codegen


@intrinsic
def vstore(typingctx, arr, offset, vec):
    """``arr[offset:offset + count] = vec``."""

    def codegen(context, builder, sig, args):
        vty = args[2].type
        ptr = _pointer(context, builder, sig.args[0], args[0], args[1], vty)
        builder.store(args[2], ptr, align=context.get_abi_sizeof(vty.element))
        return context.get_dummy_value()

    return types.none(arr, offset, vec), codegen


@intrinsic
def vstore_add(typingctx, arr, offset, vec):
    """``arr[offset:offset + count] += vec``."""

    def codegen(context, builder, sig, args):
        vty = args[2].type
        ptr = _pointer(context, builder, sig.args[0], args[0], args[1], vty)
        align = context.get_abi_sizeof(vty.element)
        total = builder.fadd(builder.load(ptr, align=align), args[2], flags=["fast"])
        builder.store(total, ptr, align=align)
        return context.get_dummy_value()

    return types.none(arr, offset, vec), codegen


def _splat(context, builder, value, fromty, vt: Vec, vty):
    scalar = context.cast(builder, value, fromty, vt.dtype)
    one = builder.insert_element(ir.Constant(vty, None), scalar, ir.Constant(ir.IntType(32), 0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), vt.count), [0] * vt.count)
    return builder.shuffle_vector(one, ir.Constant(vty, None), zeros)


@intrinsic
def vfma(typingctx, acc, scale, vec):
    """``acc + scale * vec`` (a scalar times a vector, added to an accumulator)."""

    def codegen(context, builder, sig, args):
        vty = args[0].type
        s = _splat(context, builder, args[1], sig.args[1], sig.args[0], vty)
        return builder.fadd(args[0], builder.fmul(s, args[2], flags=["fast"]), flags=["fast"])

    return acc(acc, scale, vec), codegen


@intrinsic
def vsum(typingctx, a):
    """The sum of a vector's elements (halving: log2(count) vector additions)."""

    def codegen(context, builder, sig, args):
        v, n, i32 = args[0], sig.args[0].count, ir.IntType(32)
        carry = []
        while n > 1:
            if n % 2:
                n -= 1
                carry.append(builder.extract_element(v, ir.Constant(i32, n)))
            half = n // 2
            lo = builder.shuffle_vector(
                v, v, ir.Constant(ir.VectorType(i32, half), list(range(half)))
            )
            hi = builder.shuffle_vector(
                v, v, ir.Constant(ir.VectorType(i32, half), list(range(half, n)))
            )
            v, n = builder.fadd(lo, hi, flags=["fast"]), half
        total = builder.extract_element(v, ir.Constant(i32, 0))
        for x in carry:
            total = builder.fadd(total, x, flags=["fast"])
        return total

    return a.dtype(a), codegen


@intrinsic
def vmul(typingctx, a, b):
    """Elementwise product of two vectors."""

    def codegen(context, builder, sig, args):
        return builder.fmul(args[0], args[1], flags=["fast"])

    return a(a, b), codegen


@intrinsic
def vadd(typingctx, a, b):
    """Elementwise sum of two vectors."""

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1], flags=["fast"])

    return a(a, b), codegen


@intrinsic
def vsplat(typingctx, like, value):
    """A vector of `like`'s shape with every element `value`."""

    def codegen(context, builder, sig, args):
        return _splat(context, builder, args[1], sig.args[1], sig.args[0], args[0].type)

    return like(like, value), codegen


@intrinsic
def vrelu(typingctx, a):
    """``max(a, 0)`` elementwise (NaN stays NaN, as torch.relu)."""

    def codegen(context, builder, sig, args):
        zero = ir.Constant(args[0].type, None)
        return builder.select(builder.fcmp_unordered(">", args[0], zero), args[0], zero)

    return a(a), codegen


@intrinsic
def _transpose8(typingctx, src, s_off, s_stride, dst, d_off, d_stride):
    """An 8 x 8 block from flat ``src`` (rows ``s_stride`` apart) to flat ``dst``, transposed:
    eight vector loads, register shuffles, eight vector stores."""

    def codegen(context, builder, sig, args):
        el = context.get_value_type(sig.args[0].dtype)
        vty, i32 = ir.VectorType(el, 8), ir.IntType(32)
        align = context.get_abi_sizeof(el)

        def at(arr, arrty, off, stride, r):
            data = context.make_array(arrty)(context, builder, arr).data
            flat = builder.add(off, builder.mul(stride, ir.Constant(stride.type, r)))
            return builder.bitcast(builder.gep(data, [flat]), vty.as_pointer())

        rows = [
            builder.load(at(args[0], sig.args[0], args[1], args[2], r), align=align)
            for r in range(8)
        ]
        for c in range(8):
            col = ir.Constant(vty, None)
            for r in range(8):
                x = builder.extract_element(rows[r], ir.Constant(i32, c))
                col = builder.insert_element(col, x, ir.Constant(i32, r))
            builder.store(col, at(args[3], sig.args[3], args[4], args[5], c), align=align)
        return context.get_dummy_value()

    return types.none(src, s_off, s_stride, dst, d_off, d_stride), codegen


@njit(cache=True, nogil=True)
def transpose(a: np.ndarray) -> np.ndarray:
    """A C-contiguous 2-D array's transpose, C-contiguous (2.5x faster than torch's or
    numpy's copy of a transposed view, measured on 64 x 1024 float32): activations turned
    feature-major for an SpMM."""
    n, m = a.shape
    out = np.empty((m, n), a.dtype)
    src, dst = a.reshape(-1), out.reshape(-1)
    n8, m8 = n - n % 8, m - m % 8
    un, um = np.uint64(n), np.uint64(m)
    for i0 in range(0, n8, 8):
        for j0 in range(0, m8, 8):
            s_off = np.uint64(i0) * um + np.uint64(j0)
            _transpose8(src, s_off, um, dst, np.uint64(j0) * un + np.uint64(i0), un)
    for i in range(n):
        for j in range(m8, m):
            out[j, i] = a[i, j]
    for i in range(n8, n):
        for j in range(m8):
            out[j, i] = a[i, j]
    return out
