"""batch.py's counts and statistics compiled with numba (the optional `scale` extra): one pass per text.

Each text's code points are read once, through a table of flags and a table of lower cases. Words (runs of 2+ word
characters of the lower-cased text) and word pairs are hashed as they are read, looked up in an open-addressing table
of the vocabulary and then compared code point by code point, so every match is exact. A row's hits are counted and
written in column order. The seven text statistics are counted in the same loop. batch.py lower-cases in Python the
few texts where one code point's lower case is not enough (İ becomes two, Σ depends on its neighbours): their words
are read from that copy.
"""
from __future__ import annotations

import numpy as np
from numba import njit

WORD, SPACE, DIGIT, MATHS = 1, 2, 4, 8  # flags per code point (WORD: its lower case is a word character)
BASE = np.uint64(0x100000001B3)  # a term's hash: h = h * BASE + lower-case code point, modulo 2**64
MIX = np.uint64(0x9E3779B97F4A7C15)  # its slot: the top bits of h * MIX
DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
LOWEST_BIT = np.zeros(64, np.int64)  # bit i set alone, times DE_BRUIJN, has i's unique top six bits
LOWEST_BIT[(np.left_shift(np.uint64(1), np.arange(64, dtype=np.uint64)) * DE_BRUIJN) >> np.uint64(58)] = np.arange(64)
STATS = 7  # length, words (str.split), newlines, digits, has code, maths signs, question marks


@njit(cache=True, inline="always")
def _slot(h, bits):
    return np.int64((h * MIX) >> np.uint64(64 - bits))


@njit(cache=True)
def vocabulary_table(term_cps, term_starts, bits):
    """Per slot of a 2**bits table: the index of the term stored there (-1: empty) and its hash. Term t is
    term_cps[term_starts[t]:term_starts[t + 1] - 1] (code_points() of the terms)."""
    slots, hashes = np.full(1 << bits, -1, np.int64), np.zeros(1 << bits, np.uint64)
    for t in range(len(term_starts) - 1):
        h = np.uint64(0)
        for j in range(term_starts[t], term_starts[t + 1] - 1):
            h = h * BASE + np.uint64(term_cps[j])
        s = _slot(h, bits)
        while slots[s] >= 0:
            s = (s + 1) & ((1 << bits) - 1)
        slots[s], hashes[s] = t, h
    return slots, hashes


@njit(cache=True, inline="always")
def _spells(term_cps, a, b, cps, lower, b1, e1, b2, e2):
    """Is term_cps[a:b] the lower-cased span cps[b1:e1], or, when b2 >= 0, that span, a space and cps[b2:e2]?"""
    n1 = e1 - b1
    if b - a != (n1 if b2 < 0 else n1 + 1 + e2 - b2):
        return False
    for j in range(n1):
        if term_cps[a + j] != lower[cps[b1 + j]]:
            return False
    if b2 >= 0:
        if term_cps[a + n1] != 32:
            return False
        for j in range(e2 - b2):
            if term_cps[a + n1 + 1 + j] != lower[cps[b2 + j]]:
                return False
    return True


@njit(cache=True, inline="always")
def _column(h, slots, hashes, term_cps, term_starts, columns, bits, cps, lower, b1, e1, b2, e2):
    """The column of the term hashed h and spelled by the span(s), or -1."""
    s = _slot(h, bits)
    while slots[s] >= 0:
        t = slots[s]
        if hashes[s] == h and _spells(term_cps, term_starts[t], term_starts[t + 1] - 1, cps, lower, b1, e1, b2, e2):
            return columns[t]
        s = (s + 1) & (len(slots) - 1)
    return -1


@njit(cache=True, inline="always")
def _text(cps, lo, hi, flags, lower, slots, hashes, term_cps, term_starts, columns, bits, pairs, words, hits, stats):
    """One text, cps[lo:hi]: its statistics into stats (a row) and, if `words`, its terms' columns into hits;
    how many."""
    k, run, pb, pe, ph = 0, 0, -1, -1, np.uint64(0)
    b, h, power = lo, np.uint64(0), np.uint64(1)
    n_words = newlines = digits = code = signs = questions = ticks = 0
    after_space = 1
    for j in range(lo, hi + 1):  # cps[hi] is the newline after the text: it ends the last word
        c = cps[j]
        f = flags[c]
        space = (f >> 1) & 1
        n_words += after_space & (1 - space)
        after_space = space
        digits += (f >> 2) & 1
        signs += (f >> 3) & 1
        newlines += c == 10
        questions += c == 63
        ticks = ticks + 1 if c == 96 else 0
        if ticks >= 3 or (c == 100 and j + 3 < hi and cps[j + 1] == 101 and cps[j + 2] == 102 and cps[j + 3] == 32):
            code = 1
        if not words:
            continue
        if f & WORD:
            if run == 0:
                b, h, power = j, np.uint64(0), np.uint64(1)
            h, power, run = h * BASE + np.uint64(lower[c]), power * BASE, run + 1
            continue
        if run >= 2:
            t = _column(h, slots, hashes, term_cps, term_starts, columns, bits, cps, lower, b, j, -1, -1)
            if t >= 0:
                hits[k], k = t, k + 1
            if pairs and pb >= 0:
                t = _column((ph * BASE + np.uint64(32)) * power + h, slots, hashes, term_cps, term_starts, columns,
                            bits, cps, lower, pb, pe, b, j)
                if t >= 0:
                    hits[k], k = t, k + 1
            pb, pe, ph = b, j, h
        run = 0
    stats[0], stats[1], stats[2], stats[3] = hi - lo, n_words, newlines - 1, digits
    stats[4], stats[5], stats[6] = code, signs, questions
    return k


@njit(cache=True, inline="always")
def _tally(hits, k, seen, bitmap, indices, data, at):
    """Count hits[:k] in `seen` and mark them in `bitmap` (both all zero again after), then write each column
    once, in increasing order, with its count, to indices/data[at:]; how many columns."""
    first, last = len(bitmap), 0
    for q in range(k):
        t = hits[q]
        seen[t] += 1
        bitmap[t >> 6] |= np.uint64(1) << np.uint64(t & 63)
        first, last = min(first, t >> 6), max(last, t >> 6)
    u = at
    for w in range(first, last + 1):
        x = bitmap[w]
        while x:
            low = x & (~x + np.uint64(1))  # the lowest bit set; its index from a de Bruijn sequence
            t = w * 64 + LOWEST_BIT[(low * DE_BRUIJN) >> np.uint64(58)]
            indices[u], data[u], seen[t], u = t, seen[t], 0, u + 1
            x ^= low
        bitmap[w] = 0
    return u - at


@njit(cache=True, inline="always")
def _longest(starts):
    longest = 0
    for i in range(len(starts) - 1):
        longest = max(longest, starts[i + 1] - starts[i])
    return longest


@njit(cache=True, inline="always")
def _grown(a, size):
    out = np.empty(max(size, 2 * len(a)), a.dtype)
    out[:len(a)] = a
    return out


@njit(cache=True, nogil=True)  # batch.py runs a few of these at once on threads
def count_and_measure(cps, starts, lowered, lowered_starts, special, flags, lower, vocab, bits, pairs):
    """CSR arrays (float counts, indices, indptr) of the terms of each text, and its STATS counts. Text i is
    cps[starts[i]:starts[i + 1] - 1]; if special[i] = s >= 0, its words are read from lowered text s instead.
    An empty vocabulary skips the words."""
    slots, hashes, term_cps, term_starts, columns = vocab
    n, words, scratch = len(starts) - 1, len(columns) > 0, np.zeros(STATS, np.int64)
    seen, bitmap = np.zeros(len(columns) + 1), np.zeros(len(columns) // 64 + 1, np.uint64)
    hits = np.empty(max(_longest(starts), _longest(lowered_starts)) + 1, np.int32)
    indices, data = np.empty(len(cps) // 16 + 64, np.int32), np.empty(len(cps) // 16 + 64, np.float64)
    indptr, stats = np.zeros(n + 1, np.int64), np.zeros((n, STATS), np.int64)
    for i in range(n):
        s = special[i]
        k = _text(cps, starts[i], starts[i + 1] - 1, flags, lower, slots, hashes, term_cps, term_starts, columns,
                  bits, pairs, words and s < 0, hits, stats[i])
        if words and s >= 0:
            k = _text(lowered, lowered_starts[s], lowered_starts[s + 1] - 1, flags, lower, slots, hashes, term_cps,
                      term_starts, columns, bits, pairs, True, hits, scratch)
        if indptr[i] + k > len(indices):
            indices, data = _grown(indices, indptr[i] + k), _grown(data, indptr[i] + k)
        indptr[i + 1] = indptr[i] + _tally(hits, k, seen, bitmap, indices, data, indptr[i])
    return data[:indptr[n]], indices[:indptr[n]], indptr, stats
