#!/usr/bin/env bash
# Segue's CBOW against gensim's on the real 30Music sessions (../shared/data):
#   1. imports the three 30Music test files into a temporary library,
#   2. trains CBOW on the training sessions with Segue and with gensim (seeds 1
#      and 2, one thread each, gensim's defaults, 150 dimensions, min_count 1),
#   3. reports the top-10 neighbour overlap Segue~gensim next to gensim~gensim,
#   4. runs W2V-kNN through Segue's evaluation harness with each set of
#      vectors and reports the relative HitRatio@10 difference (target ≤ 5 %).
# Usage: models/scripts/compare_gensim_30music.sh   (from anywhere)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${SEGUE_SHARED_DATA:-$root/../shared/data}/30music
if [ ! -f "$data/30music-200ks_test.0.txt" ]; then
  echo "not run: the 30Music files are not at $data (set SEGUE_SHARED_DATA to the shared data folder)"
  exit 0
fi
python=$("$here/reference_env.sh")
target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build --release --locked -p segue-cli >&2)
cli="$target/release/segue-cli"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SEGUE_DB="$work/library.sqlite" SEGUE_DATA_DIR="$work"

"$cli" import file "$data"/30music-200ks_test.{0,1,2}.txt >/dev/null
"$cli" export sessions --split train --out "$work/train.txt"
"$cli" embeddings w2v --threads 1 --seed 1 --out "$work/segue.txt"
"$python" "$here/gensim_word2vec.py" train --sessions "$work/train.txt" --seed 1 --out "$work/gensim-seed1.txt" >/dev/null
"$python" "$here/gensim_word2vec.py" train --sessions "$work/train.txt" --seed 2 --out "$work/gensim-seed2.txt" >/dev/null

echo "top-10 neighbour overlap (tokens seen at least N times in training)"
for n in 1 5 20; do
  ours=$("$python" "$here/gensim_word2vec.py" overlap --a "$work/segue.txt" --b "$work/gensim-seed1.txt" --sessions "$work/train.txt" --min-count $n)
  theirs=$("$python" "$here/gensim_word2vec.py" overlap --a "$work/gensim-seed2.txt" --b "$work/gensim-seed1.txt" --sessions "$work/train.txt" --min-count $n)
  "$python" - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"  N >= {ours['min_count']:>2}: {ours['tokens']:>6} tokens   segue~gensim {ours['mean_overlap']:.3f}   gensim(seed 2)~gensim(seed 1) {theirs['mean_overlap']:.3f}")
PY
done

"$cli" --json eval --model w2v-knn --threads 1 --seed 1 \
  --w2v-vectors "$work/gensim-seed1.txt" --w2v-vectors "$work/gensim-seed2.txt" > "$work/eval.json"
"$python" - "$work/eval.json" <<'PY'
import json, sys
table = json.load(open(sys.argv[1]))
rows = {r["model"]: r["metrics"] for r in table["rows"]}
print("W2V-kNN through Segue's harness (HR@10, MRR@20):")
for name, m in rows.items():
    print(f"  {name:<36} {m['hr10']:.4f}  {m['mrr20']:.4f}")
ours = rows["w2v-knn"]["hr10"]
ref = rows["w2v-knn [gensim-seed1.txt]"]["hr10"]
rel = abs(ours - ref) / ref
print(f"relative HR@10 difference segue vs gensim: {rel * 100:.2f} % (target <= 5 %): {'ok' if rel <= 0.05 else 'OVER'}")
PY
