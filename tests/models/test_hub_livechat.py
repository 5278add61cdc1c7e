"""Hub behaviour: remote code without hf_livechat installed, and loading by repo id from an offline HF cache."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import torch
from livechat_testing import random_labels, tiny_config, tiny_inputs

from hf_livechat import LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.tokenization import default_tokenizer


def _save_model_and_inputs(folder):
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(tiny_config(init_std=0.3)).eval()
    model.save_pretrained(folder)
    inputs = {**tiny_inputs(model.config), "labels": random_labels(model.config)}
    torch.save(inputs, folder / "inputs.pt")
    with torch.no_grad():
        torch.save(model(**inputs).logits, folder / "expected_logits.pt")
    return model


def _run_python(code: str, env_overrides: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_overrides or {})}
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300)


# Makes `import hf_livechat` fail in the child process, as on a machine where it is not installed.
BLOCK_PACKAGE = "import sys; sys.modules['hf_livechat'] = None"


def test_saved_folder_loads_with_trust_remote_code_without_the_package(tmp_path):
    _save_model_and_inputs(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_livechat.LiveChatForCommentGeneration"
    # One modeling file, its layers and its config travel with the weights, and nothing else of the package.
    assert sorted(p.name for p in tmp_path.glob("*.py")) == ["configuration_livechat.py", "layers_livechat.py", "modeling_livechat.py"]
    result = _run_python(
        f"""
        {BLOCK_PACKAGE}
        import torch
        from transformers import AutoModel
        try:
            import hf_livechat
            raise SystemExit("hf_livechat should not be importable here")
        except ImportError:
            pass
        folder = {str(tmp_path)!r}
        model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        inputs = torch.load(folder + "/inputs.pt")
        with torch.no_grad():
            logits = model(**inputs).logits
        assert torch.equal(logits, torch.load(folder + "/expected_logits.pt")), "logits differ"
        print("generated", model.generate(**{{k: v for k, v in inputs.items() if k != "labels"}}, max_new_tokens=3).shape)
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "generated" in result.stdout


def _place_in_hf_cache(folder, cache_dir, repo_id="org/livechat", commit="0123456789abcdef0123456789abcdef01234567"):
    repo_dir = cache_dir / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / commit
    shutil.copytree(folder, snapshot)
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(commit)


def test_model_and_processor_load_by_repo_id_from_offline_cache(tmp_path):
    folder = tmp_path / "model"
    _save_model_and_inputs(folder)
    processor = LiveChatProcessor.from_config(default_tokenizer(), tiny_config())
    processor.save_pretrained(folder)
    _place_in_hf_cache(folder, tmp_path / "hub")
    result = _run_python(
        f"""
        import torch
        import hf_livechat
        from transformers import AutoModel, AutoProcessor
        model = AutoModel.from_pretrained("org/livechat").eval()
        processor = AutoProcessor.from_pretrained("org/livechat")
        assert type(processor).__name__ == "LiveChatProcessor", type(processor)
        inputs = torch.load({str(folder / "inputs.pt")!r})
        with torch.no_grad():
            assert torch.equal(model(**inputs).logits, torch.load({str(folder / "expected_logits.pt")!r}))
        print("ok")
        """,
        {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HOME": str(tmp_path / "home")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
