"""
A Tool's part in ``iactpipe-chain``: its stage and the traits naming the files it reads
and writes. Declared on each Tool class (``chain_step = ChainStep(...)``); the chain
(`iactpipe.workflow`) builds its steps from it. A plain declaration with no import of
the chain, so that every Tool can carry it at no cost.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ChainStep"]


@dataclass(frozen=True)
class ChainStep:
    """
    A Tool's part in the chain: its stage and the traits (``"Class.trait"``, as in the
    Tool's ``aliases``) naming the files or directories it reads and writes.
    """

    stage: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
