"""Light sentence embeddings for the learned routers (WordLlama, no torch) and a disk cache per set of texts."""
from __future__ import annotations

import hashlib
import os
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

from ..datasets.sources import cache_dir

LIGHT_EXTRA = "embeddings-light"


class WordLlamaEmbedder:
    """WordLlama l2_supercat: 256-d static sentence embeddings whose weights ship inside the PyPI package.

    The model loads on the first call, so an embedder whose texts are all cached never loads it.
    """

    def __init__(self):
        try:
            self.name = f"wordllama-{metadata.version('wordllama')}-l2_supercat_256"
        except metadata.PackageNotFoundError:
            raise ImportError(f"light sentence embeddings need the optional extra: pip install -e '.[{LIGHT_EXTRA}]' "
                              "(WordLlama: small, no torch; the model ships inside the package)") from None
        self.model_ = None
        self.calls = 0  # texts -> vectors runs of the model itself

    def load(self):
        """The model, read from the installed package; never downloads."""
        if self.model_ is None:
            import wordllama

            package = Path(wordllama.__file__).parent  # holds weights/ and tokenizers/: used as the cache
            self.model_ = wordllama.WordLlama.load(cache_dir=package, disable_download=True)
        return self.model_

    def __call__(self, texts) -> np.ndarray:
        model, texts = self.load(), [str(t) for t in texts]
        self.calls += 1
        order = np.argsort([len(t) for t in texts], kind="stable")  # batches of like lengths: less padding, 2x faster
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty text has no tokens: a zero vector
            vectors = np.asarray(model.embed([texts[i] for i in order], norm=True), dtype=np.float32)
        out = np.empty_like(vectors)
        out[order] = np.nan_to_num(vectors)
        return out

    def __getstate__(self):
        """Pickled (a saved router) without the loaded model: it loads again on first use."""
        return {**self.__dict__, "model_": None}


class CachedEmbedder:
    """Wraps an embedder (texts -> n x d): a call with at least `min_texts` texts is kept on disk as .npy.

    The file is keyed by the embedder's name and a hash of every text in order, under
    `<cache dir>/embeddings/<name>/` (ROUTERLIB_CACHE_DIR, else ~/.cache/routerlib), so re-running a
    notebook reads the vectors back. Single live queries skip the cache: no file per request.
    """

    def __init__(self, embedder, name: str | None = None, min_texts: int = 2, root=None):
        self.embedder = embedder
        self.name = name or embedder.name
        self.min_texts = min_texts
        self.root = root  # default: cache_dir() at call time

    def path(self, texts) -> Path:
        """The .npy file of these texts (in this order)."""
        digest = hashlib.sha256()
        for text in texts:
            digest.update(hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).digest())
        return Path(self.root or cache_dir()) / "embeddings" / self.name / f"{digest.hexdigest()[:40]}.npy"

    def __call__(self, texts) -> np.ndarray:
        texts = [str(t) for t in texts]
        if len(texts) < self.min_texts:
            return np.asarray(self.embedder(texts), dtype=np.float32)
        path = self.path(texts)
        try:
            vectors = np.load(path)
            if vectors.shape[0] == len(texts):
                return vectors
        except (OSError, ValueError):
            pass  # not cached yet, or a damaged file: compute again
        vectors = np.asarray(self.embedder(texts), dtype=np.float32)
        save_npy(path, vectors)
        return vectors

    def __repr__(self):
        return f"CachedEmbedder({self.name!r}, min_texts={self.min_texts})"


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write an .npy file atomically: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def light_embedder(cache: bool = True, root=None):
    """Offline sentence embeddings without torch (WordLlama, extra `embeddings-light`), cached on disk by default."""
    model = WordLlamaEmbedder()
    return CachedEmbedder(model, root=root) if cache else model
