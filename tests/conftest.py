import os
from pathlib import Path

import pytest
from hypothesis import settings


# The default test run is reproducible: property tests draw the same examples every time (a failure found once is
# found again). `HYPOTHESIS_PROFILE=explore` draws fresh random examples, and more of them, to hunt for new bugs.
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real sample files of ../shared/data (skips when this checkout has none beside it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real sample data not found at {SHARED_DATA}")
    return SHARED_DATA
