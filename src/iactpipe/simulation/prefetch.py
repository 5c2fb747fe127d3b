"""A software prefetch for numba kernels (LLVM's ``llvm.prefetch``).

In a production the kernels that read the NSB bank (`nsb_bank.synthesise_r0_bank`) find
it out of the cache: the rendering, the containers and the writing run between two
cameras. A camera's 1296 bank windows are then read at memory latency, one pixel after
the other (measured: 120 of 140 us per camera), unless their loads are issued ahead:
`nsb_bank.synthesise_r0_bank` asks for all the lines a camera will read in one pass
before it reads any. A prefetch changes no value.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch", "prefetch_write"]


def _prefetch_codegen(rw: int):
    """The code of `prefetch` (``rw`` 0: for reading) or `prefetch_write` (1)."""

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        ary = context.make_array(array_type)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(
            context, builder, array_type, ary, [args[1]], wraparound=False, boundscheck=False
        )
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        # the name mangled by llvmlite ("llvm.prefetch.p0" with opaque pointers,
        # "llvm.prefetch.p0i8" with the typed ones of older LLVM)
        fn = builder.module.declare_intrinsic("llvm.prefetch", [i8p], fnty)
        # read (0) or write (1), keep in all cache levels (3), data cache (1)
        hints = [ir.Constant(i32, rw), ir.Constant(i32, 3), ir.Constant(i32, 1)]
        builder.call(fn, [builder.bitcast(ptr, i8p), *hints])
        return context.get_dummy_value()

    return codegen


@intrinsic
def prefetch(typingctx, array, index):
    """Ask for the cache line of ``array[index]`` (1-d array, no bounds check: the
    address only has to be computable; a prefetch never faults) to be loaded."""
    return types.void(array, types.intp), _prefetch_codegen(0)


@intrinsic
def prefetch_write(typingctx, array, index):
    """`prefetch` for writing: the line is loaded ready to be modified (a kernel's new
    output array, whose first store to a line would otherwise wait for it)."""
    return types.void(array, types.intp), _prefetch_codegen(1)
