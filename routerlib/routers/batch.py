"""Batch features with no Python loop over words or characters: texts become one array of code points.

Word counts: a word is a maximal run of characters Python's `(?u)\\w` matches (str.isalnum() or "_") of two or
more, in the lower-cased text (str.lower(), as scikit-learn does); each word and word pair is identified by two
64-bit polynomial hashes and its length, looked up in the vocabulary hashed the same way. Text statistics
count characters by the same tables as str.isspace() and str.isdigit(). Both equal the per-text Python path
(tests check it); a wrong match would need two independent 64-bit hash collisions at the same length.
"""
from __future__ import annotations

import functools
import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:
    from . import batch_jit as JIT  # numba, the optional `scale` extra: the compiled path
except ImportError:  # without numba the numpy path below gives the same arrays
    JIT = None

PRIMES = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F))  # odd: invertible modulo 2**64
CHUNK_CHARS = 2_000_000  # code points handled at once (8 MB as UTF-32; 16 MB per cached power table)
THREADS, THREAD_CHARS = os.cpu_count() or 1, 200_000  # the compiled path's threads, and the least work for one
_VOCAB = weakref.WeakKeyDictionary()  # vectorizer -> (sorted hashes, second hashes, lengths, columns)
_TABLES = weakref.WeakKeyDictionary()  # vectorizer -> its vocabulary as batch_jit's hash table
SPECIAL = "\u0130\u03a3"  # İ and Σ: str.lower() does not map them to one code point each


@functools.lru_cache(maxsize=None)
def char_tables() -> dict:
    """Per code point: a word character (\\w), whitespace (str.split), a digit (str.isdigit), a maths sign, and
    its lower case where that is one code point (else itself); for batch_jit, the four as bits of one byte."""
    chars = [chr(c) for c in range(0x110000)]
    word = np.fromiter((c.isalnum() for c in chars), bool, len(chars))
    word[ord("_")] = True
    space = np.zeros(len(chars), bool)
    space[[c for c in range(0x3100) if chars[c].isspace()]] = True  # none lie above U+3000
    digit = np.fromiter((c.isdigit() for c in chars), bool, len(chars))
    maths = np.zeros(len(chars), bool)
    maths[[ord(c) for c in "=+*/^<>"]] = True
    lower = np.fromiter((ord(low) if len(low := c.lower()) == 1 else ord(c) for c in chars), np.uint32, len(chars))
    flags = (word[lower] * 1 | space * 2 | digit * 4 | maths * 8).astype(np.uint8)  # batch_jit.WORD ... MATHS
    return {"word": word, "space": space, "digit": digit, "maths": maths, "lower": lower, "flags": flags}


def code_points(texts) -> tuple[np.ndarray, np.ndarray]:
    """The texts joined by a newline as UTF-32 code points, and where each text starts (n + 1 offsets)."""
    return _joined(texts)[1:]


def _joined(texts):
    """The texts joined by a newline (one after the last too), as a str and as code points; where each starts."""
    starts = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)) + 1, out=starts[1:])
    joined = "\n".join([*texts, ""])  # not join(texts) + "\n": that copies it again
    return joined, np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32), starts


@functools.lru_cache(maxsize=8)
def _power_table(base: int, length: int) -> np.ndarray:
    p = np.full(length, np.uint64(base), np.uint64)
    p[0] = 1
    return np.cumprod(p, dtype=np.uint64)


def _powers(length: int, base) -> np.ndarray:
    """base**0 .. base**(length-1) modulo 2**64 (cached, at least CHUNK_CHARS long)."""
    return _power_table(int(base), max(int(length), CHUNK_CHARS + 2))[:length]


@functools.lru_cache(maxsize=None)
def _inverse(base: int) -> np.uint64:
    """The inverse of an odd number modulo 2**64 (Newton's iteration)."""
    inv, base = np.uint64(1), np.uint64(base)
    with np.errstate(over="ignore"):
        for _ in range(7):
            inv = inv * (np.uint64(2) - base * inv)
    return inv


def _span_hashes(cps: np.ndarray, start: np.ndarray, end: np.ndarray):
    """Two hashes per span cps[start:end]: sum of cp[start + j] * P**j modulo 2**64, one per prime."""
    out = []
    with np.errstate(over="ignore"):
        for base in PRIMES:
            prefix = np.zeros(len(cps) + 1, np.uint64)
            np.cumsum(cps * _powers(len(cps), base), dtype=np.uint64, out=prefix[1:])
            out.append((prefix[end] - prefix[start]) * _powers(len(cps) + 1, _inverse(int(base)))[start])
    return out


def _words(cps: np.ndarray, starts: np.ndarray):
    """Words of 2+ word characters: their text index, start and end in `cps`."""
    word = np.zeros(len(cps) + 2, np.int8)
    word[1:-1] = char_tables()["word"][cps]
    edges = np.flatnonzero(np.diff(word))
    begin, end = edges[0::2], edges[1::2]
    keep = end - begin >= 2
    begin, end = begin[keep], end[keep]
    return np.searchsorted(starts, begin, side="right") - 1, begin, end


def _terms(cps, starts, ngram_max: int):
    """Per word and (if ngram_max == 2) per word pair in the same text: text index, two hashes, length."""
    doc, begin, end = _words(cps, starts)
    h1, h2 = _span_hashes(cps, begin, end)
    docs, hashes, lengths = [doc], [(h1, h2)], [end - begin]
    if ngram_max == 2 and len(doc) > 1:
        pair = np.flatnonzero(doc[1:] == doc[:-1])
        first, second, n1 = pair, pair + 1, (end - begin)[pair]
        joined = []
        with np.errstate(over="ignore"):
            for h, base in zip((h1, h2), PRIMES):
                pw = _powers(int(n1.max(initial=0)) + 2, base)
                joined.append(h[first] + np.uint64(ord(" ")) * pw[n1] + h[second] * pw[n1 + 1])
        docs.append(doc[pair])
        hashes.append(tuple(joined))
        lengths.append(n1 + 1 + (end - begin)[second])
    return (np.concatenate(docs), np.concatenate([h[0] for h in hashes]), np.concatenate([h[1] for h in hashes]),
            np.concatenate(lengths))


def _vocabulary(vectorizer):
    if vectorizer not in _VOCAB:
        terms = list(vectorizer.vocabulary_)
        cps, starts = code_points(terms)
        h1, h2 = _span_hashes(cps, starts[:-1], starts[1:] - 1)
        order = np.argsort(h1)
        columns = np.fromiter(vectorizer.vocabulary_.values(), np.int64, len(terms))
        _VOCAB[vectorizer] = (h1[order], h2[order], np.diff(starts)[order] - 1, columns[order])
    return _VOCAB[vectorizer]


def supported(vectorizer) -> bool:
    """Settings this path reproduces: lower-cased words of 2+ characters, 1- and/or 2-grams, no stop words."""
    return (vectorizer.analyzer == "word" and vectorizer.lowercase and vectorizer.strip_accents is None
            and vectorizer.token_pattern == r"(?u)\b\w\w+\b" and vectorizer.tokenizer is None
            and vectorizer.preprocessor is None and vectorizer.stop_words is None
            and tuple(vectorizer.ngram_range) in ((1, 1), (1, 2)) and not vectorizer.binary)


def _chunks(texts, pieces: int = 1):
    """Slices of at most CHUNK_CHARS characters (one text at least); about `pieces` of them if that is more and
    each has THREAD_CHARS or more."""
    lengths = np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)) + 1)
    total = int(lengths[-1]) if len(lengths) else 0
    size = min(CHUNK_CHARS, max(THREAD_CHARS, -(-total // pieces)))
    cut = np.r_[0, np.searchsorted(lengths, np.arange(size, total, size)), len(texts)]
    return [slice(a, b) for a, b in zip(cut[:-1], cut[1:]) if b > a]


def counts(vectorizer, texts):
    """CountVectorizer.transform(texts) of a fitted (Tfidf)Vectorizer, as a float csr matrix."""
    return counts_and_stats(vectorizer, texts, stats=False)[0]


def counts_and_stats(vectorizer, texts, stats: bool = True):
    """counts(vectorizer, texts) and text_stats(texts) (None if not `stats`): in one pass with numba."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    texts = list(map(str, texts))
    if not supported(vectorizer):
        return (sparse.csr_matrix(CountVectorizer.transform(vectorizer, texts), dtype=float),
                text_stats(texts) if stats else None)
    if JIT is not None:
        data, indices, indptr, found = _jit_run(vectorizer, texts)
        return (sparse.csr_matrix((data, indices, indptr), shape=(len(texts), len(vectorizer.vocabulary_))),
                _stats_of(found) if stats else None)
    v1, v2, vlen, vcol = _vocabulary(vectorizer)
    parts = []
    for part in _chunks(texts) or [slice(0, 0)]:
        doc, h1, h2, length = _terms(*code_points([t.lower() for t in texts[part]]), vectorizer.ngram_range[1])
        at = np.minimum(np.searchsorted(v1, h1), len(v1) - 1)
        hit = (v1[at] == h1) & (v2[at] == h2) & (vlen[at] == length) if len(v1) else np.zeros(len(h1), bool)
        parts.append(sparse.csr_matrix((np.ones(int(hit.sum())), (doc[hit], vcol[at[hit]])),
                                       shape=(part.stop - part.start, len(vectorizer.vocabulary_))))
    out = sparse.csr_matrix(sparse.vstack(parts, format="csr"))
    out.sum_duplicates()
    out.sort_indices()
    return out, text_stats(texts) if stats else None


def _jit_table(vectorizer):
    """The vectorizer's vocabulary as batch_jit's open-addressing table (at most half full), and its size in bits."""
    if vectorizer is None:
        return _empty_table()
    if vectorizer not in _TABLES:
        terms = list(vectorizer.vocabulary_)
        cps, starts = code_points(terms)
        bits = max(1, int(np.ceil(np.log2(2 * len(terms) + 1))))
        columns = np.fromiter(vectorizer.vocabulary_.values(), np.int32, len(terms))
        _TABLES[vectorizer] = ((*JIT.vocabulary_table(cps, starts, bits), cps, starts, columns), bits)
    return _TABLES[vectorizer]


@functools.lru_cache(maxsize=None)
def _empty_table():
    cps, starts = code_points([])
    return (*JIT.vocabulary_table(cps, starts, 1), cps, starts, np.zeros(0, np.int32)), 1


def _jit_run(vectorizer, texts):
    """_jit_pass over all the texts, in chunks run THREADS at a time: the CSR arrays and statistics of them all."""
    char_tables(), _jit_table(vectorizer)  # built once, before the threads
    chunks = _chunks(texts, THREADS) or [slice(0, 0)]
    if len(chunks) == 1:
        return _jit_pass(vectorizer, texts)
    with ThreadPoolExecutor(THREADS) as pool:  # the compiled pass releases the GIL
        parts = list(pool.map(lambda part: _jit_pass(vectorizer, texts[part]), chunks))
    ends = np.cumsum([p[2][-1] for p in parts])
    indptr = np.concatenate([[0]] + [p[2][1:] + end - p[2][-1] for p, end in zip(parts, ends)])
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), indptr,
            np.vstack([p[3] for p in parts]))


def _jit_pass(vectorizer, texts):
    """batch_jit over some texts (vectorizer None: statistics only): CSR arrays of their counts, their statistics."""
    tables = char_tables()
    joined, cps, starts = _joined(texts)
    special = np.full(len(texts), -1)
    lowered, lowered_starts = code_points([])
    if vectorizer is not None and any(c in joined for c in SPECIAL):  # these texts are lower-cased in Python first
        where = np.unique(np.searchsorted(starts, _positions(joined, SPECIAL), side="right") - 1)
        lowered, lowered_starts = code_points([texts[i].lower() for i in where])
        special[where] = np.arange(len(where))
    (vocab, bits), pairs = _jit_table(vectorizer), vectorizer is not None and vectorizer.ngram_range[1] == 2
    return JIT.count_and_measure(cps, starts, lowered, lowered_starts, special, tables["flags"], tables["lower"], vocab,
                                 bits, pairs)


def _positions(text: str, chars: str) -> list:
    """Where each of `chars` occurs in `text` (str.find: much faster than a regular expression)."""
    found = []
    for c in chars:
        at = text.find(c)
        while at >= 0:
            found.append(at)
            at = text.find(c, at + 1)
    return found


def _stats_of(found: np.ndarray) -> np.ndarray:
    """batch_jit's statistics counts as classifier.text_stats' numbers (the same floating-point operations)."""
    length, size = found[:, 0], np.maximum(found[:, 0], 1)
    return np.column_stack([np.log1p(length), np.log1p(found[:, 1]), np.log1p(found[:, 2]), found[:, 3] / size,
                            (found[:, 4] > 0).astype(float), found[:, 5] / size, found[:, 6].astype(float)])


def tfidf(vectorizer, texts):
    """TfidfVectorizer.transform(texts): these counts, then the vectorizer's own TF-IDF weighting and norm."""
    return vectorizer._tfidf.transform(counts(vectorizer, texts), copy=False)


def text_stats(texts) -> np.ndarray:
    """classifier.text_stats(texts) without a loop per character: the same seven numbers per text."""
    texts = list(map(str, texts))
    out = [np.empty((0, 7))]
    if JIT is not None:
        return _stats_of(_jit_run(None, texts)[3])
    tables = char_tables()
    for part in _chunks(texts):
        cps, starts = code_points(texts[part])
        length = np.diff(starts) - 1

        def per_text(mask):  # how many positions of each text are set
            return np.diff(np.searchsorted(np.flatnonzero(mask), starts)).astype(float)

        filled = ~tables["space"][cps]
        filled[starts[1:] - 1] = False  # the joining newline
        words = filled & ~np.r_[False, filled[:-1]]
        code = np.zeros(len(cps), bool)
        tick = cps == ord("`")
        code[:-2] = tick[:-2] & tick[1:-1] & tick[2:]
        code[:-3] |= (cps[:-3] == ord("d")) & (cps[1:-2] == ord("e")) & (cps[2:-1] == ord("f")) & (cps[3:] == 32)
        newline = cps == ord("\n")
        newline[starts[1:] - 1] = False
        size = np.maximum(length, 1)
        out.append(np.column_stack([
            np.log1p(length), np.log1p(per_text(words)), np.log1p(per_text(newline)),
            per_text(tables["digit"][cps]) / size, (per_text(code) > 0).astype(float),
            per_text(tables["maths"][cps]) / size, per_text(cps == ord("?"))]))
    return np.vstack(out)
