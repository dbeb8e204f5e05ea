#!/usr/bin/env bash
# Creates (once) a throwaway Python environment with the reference tools the
# comparison scripts use, and prints its python's path. Nothing here is part
# of Segue: it only produces reference numbers.
#   SEGUE_REFERENCE_VENV  where to put it (default: /var/cache/segue/venv-ref,
#                         or $TMPDIR/segue-venv-ref when that is not writable)
set -euo pipefail
default=/var/cache/segue/venv-ref
if ! mkdir -p "$(dirname "$default")" 2>/dev/null || [ ! -w "$(dirname "$default")" ]; then
  default="${TMPDIR:-/tmp}/segue-venv-ref"
fi
venv=${SEGUE_REFERENCE_VENV:-$default}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c "import gensim" 2>/dev/null; then
  "$venv/bin/pip" install --quiet "gensim==4.4.0" "numpy>=2,<3" >&2
fi
echo "$venv/bin/python"
