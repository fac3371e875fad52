"""Work sharing for the parallel loops: each thread claims the next chunk from a shared counter.

numba's OpenMP layer splits a prange's iterations into one contiguous run per thread
(`omp for` with its static schedule, whatever `set_parallel_chunksize` says), so a thread
that the OS preempts on a busy machine, or a slower part of the corpus, holds up the other.
Instead a kernel runs `prange(lanes(n_chunks))` and each lane loops claiming chunks with an
atomic fetch-and-add until none is left: a thread's first lane does its share of the work,
its later lanes find nothing left. Every chunk's result is a pure function of the chunk,
so which thread ran it changes no number.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 64  # at least the number of threads; more lanes only cost an empty claim each


@intrinsic
def claim(typingctx, counter):
    """Atomically `counter[0] += 1` and return its value before (int64)."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        [array_type] = signature.args
        ary = context.make_array(array_type)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer(context, builder, array_type, ary, [zero])
        return builder.atomic_rmw("add", ptr, ir.Constant(ir.IntType(64), 1), "monotonic")

    return types.int64(counter), codegen


@njit(cache=True)
def lanes(n_chunks: int) -> int:
    """The prange length for `n_chunks` chunks: LANES, or fewer when there are fewer chunks."""
    return max(1, min(LANES, n_chunks))
