#!/usr/bin/env bash
# Creates (once) a throwaway Python environment with the reference tools the
# comparison scripts use, and prints its python's path. Nothing here is part
# of Segue: it only produces reference numbers.
#   reference_env.sh          gensim (Word2Vec reference)
#   reference_env.sh torch    PyTorch (training-step reference; a large download)
#   SEGUE_REFERENCE_VENV      where to put it (default: /var/cache/segue/venv-<name>,
#                             or $TMPDIR/segue-venv-<name> when that is not writable)
set -euo pipefail
kind=${1:-ref}
case "$kind" in
  ref) packages=("gensim==4.4.0" "numpy>=2,<3"); probe="import gensim" ;;
  torch) packages=("torch==2.15.0" "numpy>=2,<3"); probe="import torch" ;;
  *) echo "usage: $0 [torch]" >&2; exit 2 ;;
esac
default=/var/cache/segue/venv-$kind
if ! mkdir -p "$(dirname "$default")" 2>/dev/null || [ ! -w "$(dirname "$default")" ]; then
  default="${TMPDIR:-/tmp}/segue-venv-$kind"
fi
venv=${SEGUE_REFERENCE_VENV:-$default}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c "$probe" 2>/dev/null; then
  "$venv/bin/pip" install --quiet "${packages[@]}" >&2
fi
echo "$venv/bin/python"
