import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
sys.path.insert(0, os.path.dirname(__file__))

from standin import Service  # noqa: E402


@pytest.fixture
def service():
    with Service() as s:
        yield s


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for k in ("LLMAJ_SCHEDULER", "LLMAJ_TOKEN", "LLMAJ_NO_PANDAS"):
        monkeypatch.delenv(k, raising=False)
