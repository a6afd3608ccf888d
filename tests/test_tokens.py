import math

from routerlib import tokens


def test_offline_estimate_is_labelled(monkeypatch, tmp_path):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty cache: nothing to load, nothing downloaded
    tokens._encoder.cache_clear()
    try:
        assert tokens.token_method() == tokens.ESTIMATE_METHOD
        text = "Route easy requests to cheap models."
        assert tokens.count_tokens(text) == math.ceil(len(text) / 4)
        assert tokens.count_tokens("") == 0
    finally:
        tokens._encoder.cache_clear()


def test_message_tokens_add_overhead(monkeypatch, tmp_path):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    tokens._encoder.cache_clear()
    try:
        msgs = [{"role": "system", "content": "abcd"}, {"role": "user", "content": "abcdefgh"}]
        assert tokens.count_message_tokens(msgs) == (1 + 3) + (2 + 3) + 3
    finally:
        tokens._encoder.cache_clear()


def test_count_tokens_rejects_non_text():
    import pytest
    with pytest.raises(TypeError, match="takes a string"):
        tokens.count_tokens(None)
