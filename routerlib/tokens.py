"""Token counting: tiktoken when its encoding is cached locally, a labelled estimate otherwise."""
from __future__ import annotations

import hashlib
import math
import os
import tempfile
from functools import lru_cache

ENCODING = "o200k_base"  # gpt-4o family; close enough for pricing other models
_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
ESTIMATE_METHOD = "estimate: ceil(chars / 4)"
MESSAGE_OVERHEAD = 3  # tokens per chat message, plus 3 to prime the reply (OpenAI cookbook)


def _cache_file(encoding: str) -> str:
    """Where tiktoken keeps a downloaded encoding (mirrors tiktoken.load.read_file_cached)."""
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") \
        or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return os.path.join(cache_dir, hashlib.sha1(_BLOB.format(encoding).encode()).hexdigest())


@lru_cache(maxsize=None)
def _encoder(encoding: str = ENCODING):
    """The tiktoken encoder if its file is already on disk, else None (never downloads)."""
    if not os.path.exists(_cache_file(encoding)):
        return None
    try:
        import tiktoken
        return tiktoken.get_encoding(encoding)
    except Exception:  # a corrupt cache or a tiktoken without this encoding: fall back
        return None


def token_method() -> str:
    """How counts are made on this machine: 'tiktoken:<encoding>' or the estimate's label."""
    return f"tiktoken:{ENCODING}" if _encoder() is not None else ESTIMATE_METHOD


def count_tokens(text: str) -> int:
    """Tokens in `text`, by tiktoken where available, else ceil(chars / 4)."""
    if not isinstance(text, str):
        raise TypeError(f"count_tokens takes a string, got {type(text).__name__}")
    enc = _encoder()
    if enc is not None:
        return len(enc.encode(text, disallowed_special=()))
    return math.ceil(len(text) / 4)


def count_message_tokens(messages: list[dict]) -> int:
    """Prompt tokens of a chat request: the contents plus per-message overhead."""
    return sum(count_tokens(str(m.get("content") or "")) + MESSAGE_OVERHEAD for m in messages) + 3
