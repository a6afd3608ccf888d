"""Shared fixtures: the data mirror (when present) and a fake OpenAI server on 127.0.0.1."""
import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("module://matplotlib_inline.backend_inline")  # figures as a notebook draws them
os.environ["ROUTERLIB_OFFLINE"] = "1"  # no test downloads from the internet; download tests opt in on 127.0.0.1
REPO = Path(__file__).resolve().parent.parent
SECRET = "sk-test-DO-NOT-LEAK-0123456789abcdefXYZ"


def mirror_dir():
    """ROUTERLIB_DATA_DIR, else ../shared/data beside the checkout, if it exists."""
    for candidate in (os.environ.get("ROUTERLIB_DATA_DIR"), REPO.parent / "shared" / "data"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture
def data_mirror():
    path = mirror_dir()
    if path is None:
        pytest.skip("data mirror not present (set ROUTERLIB_DATA_DIR)")
    return path


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Downloads and derived files of a test go to a cache of its own."""
    monkeypatch.setenv("ROUTERLIB_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def fake_server():
    from fake_openai import FakeOpenAIServer

    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def no_openai_env(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
