"""A cache hint for compiled kernels: numba exposes no prefetch, so it is an LLVM intrinsic.

The z step reads one row of Φ (V x K, tens of MB) per run of a word's tokens, in an order no
hardware prefetcher can guess; asking for the next run's row while the current one is summed
overlaps the memory latency with work. A prefetch changes no value, only timing.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LINE = 64  # bytes per cache line


@intrinsic
def prefetch_row(typingctx, array, row):
    """Prefetch (for reading) every cache line of row `row` of a C-contiguous 2-D array."""
    if not (isinstance(array, types.Array) and array.ndim == 2 and array.layout == "C"):
        return None
    if not isinstance(row, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        array_type, row_type = signature.args
        ary = context.make_array(array_type)(context, builder, args[0])
        index = context.cast(builder, args[1], row_type, types.intp)
        zero = context.get_constant(types.intp, 0)
        start = cgutils.get_item_pointer(
            context, builder, array_type, ary, [index, zero], wraparound=False
        )
        byte_ptr = ir.PointerType(ir.IntType(8))
        base = builder.bitcast(start, byte_ptr)
        _, n_cols = cgutils.unpack_tuple(builder, ary.shape, 2)
        item = context.get_constant(types.intp, context.get_abi_sizeof(ary.data.type.pointee))
        n_bytes = builder.mul(n_cols, item)
        i32 = ir.IntType(32)
        fn_type = ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fn_type, "llvm.prefetch.p0")
        # (address, read = 0, locality = 3: keep in all levels, data cache = 1)
        flags = [ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)]
        step = context.get_constant(types.intp, LINE)
        with cgutils.for_range_slice(builder, zero, n_bytes, step, intp=zero.type) as (off, _):
            builder.call(fn, [builder.gep(base, [off]), *flags])
        return context.get_dummy_value()

    return types.void(array, row), codegen
