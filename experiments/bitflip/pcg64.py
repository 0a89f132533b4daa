"""numpy's PCG64 bit generator inside compiled code: the same raw 64-bit draws as ``random_raw``.

The fused engine draws each run's random input bits inside its loop instead of calling
``Generator.bit_generator.random_raw`` once per run per segment from Python (at 1,024 runs that Python
loop costs more than the learning). PCG64 (O'Neill 2014, the XSL-RR 128/64 variant numpy uses):

    s ← s · M + inc  (mod 2^128),   output = rotr64(hi(s) xor lo(s), s >> 122),
    M = 0x2360ED051FC65DA4_4385DF649FCCF645,

with the state advanced before the output, as in numpy's ``pcg64_random_r``. The 128-bit state and
increment are kept as uint64 halves [hi, lo, inc_hi, inc_lo]; the 64×64 → 128-bit product is formed from
32-bit limbs. Tested draw for draw against ``random_raw``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645
_MASK64 = (1 << 64) - 1
_MUL_HI = np.uint64(MULTIPLIER >> 64)
_MUL_LO = np.uint64(MULTIPLIER & _MASK64)
_LOW32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)
_U58 = np.uint64(58)
_U63 = np.uint64(63)
_U64 = np.uint64(64)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)


def pcg64_state(generator: np.random.Generator) -> np.ndarray:
    """[state_hi, state_lo, inc_hi, inc_lo] (uint64) of a PCG64 generator, for :func:`next_raw`."""
    state = generator.bit_generator.state
    if state["bit_generator"] != "PCG64":
        raise ValueError(f"expected a PCG64 generator, got {state['bit_generator']}")
    s, inc = state["state"]["state"], state["state"]["inc"]
    return np.array([s >> 64, s & _MASK64, inc >> 64, inc & _MASK64], dtype=np.uint64)


def set_pcg64_state(generator: np.random.Generator, words: np.ndarray) -> None:
    """Write a state advanced by :func:`next_raw` back into the generator."""
    state = generator.bit_generator.state
    state["state"]["state"] = (int(words[0]) << 64) | int(words[1])
    state["state"]["inc"] = (int(words[2]) << 64) | int(words[3])
    generator.bit_generator.state = state


@njit(cache=True, inline="always")
def _mul_hi64(a, b):
    """High 64 bits of the 128-bit product a·b."""
    a0, a1 = a & _LOW32, a >> _U32
    b0, b1 = b & _LOW32, b >> _U32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    middle = (p00 >> _U32) + (p01 & _LOW32) + (p10 & _LOW32)
    return p11 + (p01 >> _U32) + (p10 >> _U32) + (middle >> _U32)


@njit(cache=True, inline="always")
def next_raw(words, r):
    """Advance row r of ``words`` [R, 4] by one step and return the raw 64-bit output."""
    hi, lo = words[r, 0], words[r, 1]
    new_lo = lo * _MUL_LO
    new_hi = _mul_hi64(lo, _MUL_LO) + lo * _MUL_HI + hi * _MUL_LO
    sum_lo = new_lo + words[r, 3]
    carry = _ONE if sum_lo < new_lo else _ZERO
    sum_hi = new_hi + words[r, 2] + carry
    words[r, 0], words[r, 1] = sum_hi, sum_lo
    x = sum_hi ^ sum_lo
    rotation = sum_hi >> _U58
    return (x >> rotation) | (x << ((_U64 - rotation) & _U63))


@njit(cache=True)
def raw_draws(words: np.ndarray, count: int) -> np.ndarray:
    """``count`` raw draws of every row of ``words`` [R, 4]: [R, count] (advances ``words``)."""
    out = np.empty((words.shape[0], count), np.uint64)
    for r in range(words.shape[0]):
        for t in range(count):
            out[r, t] = next_raw(words, r)
    return out
