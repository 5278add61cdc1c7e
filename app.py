"""Hugging Face Space entry point: the LiveChat demo (hf_livechat/pipelines/demo.py).

The model is the folder or Hub id in the ``HF_LIVECHAT_MODEL`` variable (a Space setting), by default the
quickstart's ``livechat-quickstart/model``; ``HF_LIVECHAT_FEATURE_MODEL`` names the frame feature backbone when the
model's config has none. Locally: ``python app.py``.
"""

import os
import sys
from pathlib import Path

try:
    import hf_livechat  # noqa: F401
except ImportError:  # a Space running this checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from hf_livechat.pipelines.demo import DEFAULT_MODEL, build_demo

demo = build_demo(
    model=os.environ.get("HF_LIVECHAT_MODEL", DEFAULT_MODEL),
    feature_model=os.environ.get("HF_LIVECHAT_FEATURE_MODEL") or None,
)

if __name__ == "__main__":
    demo.launch()
