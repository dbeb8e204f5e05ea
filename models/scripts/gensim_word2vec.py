#!/usr/bin/env python3
"""Reference numbers from gensim's Word2Vec for Segue's CBOW implementation.

Run with the python that `reference_env.sh` prints. Subcommands:

  train   --sessions FILE --out FILE [--seed N] [--threads N]
          gensim Word2Vec (CBOW, gensim's defaults, 150 dimensions, min_count 1)
          on sessions (one per line, track ids separated by spaces); writes
          word2vec text vectors.
  bench   --corpus FILE [--threads 1,2]
          gensim's own effective words/s on a corpus, per thread count
          (JSON lines on stdout).
  overlap --a FILE --b FILE [--k 10] [--min-count N] [--sessions FILE]
          mean overlap of the top-k cosine neighbours of the tokens both
          files share (JSON on stdout).
  fixture --out-dir DIR
          writes the small structured corpus and gensim's neighbours that
          Segue's unit test compares against.
"""

import argparse
import json
import logging
import sys
import time

import numpy as np
from gensim.models import Word2Vec
from gensim.models.keyedvectors import KeyedVectors


def read_sessions(path):
    with open(path, encoding="utf-8") as handle:
        return [line.split() for line in handle if line.strip()]


def gensim_model(sessions, seed, threads, min_count=1, vector_size=150):
    # Everything not named is gensim's default (window 5, negative 5,
    # sample 1e-3, alpha 0.025 -> 0.0001, 5 epochs, cbow_mean 1).
    return Word2Vec(
        sentences=sessions,
        vector_size=vector_size,
        min_count=min_count,
        sg=0,
        seed=seed,
        workers=threads,
    )


def command_train(args):
    sessions = read_sessions(args.sessions)
    model = gensim_model(sessions, args.seed, args.threads)
    model.wv.save_word2vec_format(args.out)
    print(json.dumps({"vectors": len(model.wv), "out": args.out}))


def command_bench(args):
    sessions = read_sessions(args.corpus)
    tokens = sum(len(s) for s in sessions)
    for threads in [int(t) for t in args.threads.split(",")]:
        model = Word2Vec(vector_size=150, min_count=5, sg=0, seed=1, workers=threads)
        model.build_vocab(sessions)
        started = time.perf_counter()
        effective, raw = model.train(sessions, total_examples=model.corpus_count, epochs=model.epochs)
        seconds = time.perf_counter() - started
        print(json.dumps({
            "tool": "gensim", "version": __import__("gensim").__version__, "threads": threads,
            "tokens": tokens, "effective_words": effective, "raw_words": raw,
            "seconds": seconds, "effective_words_per_second": effective / seconds,
        }), flush=True)


def neighbours(kv, tokens, k):
    unit = kv.get_normed_vectors()
    index = {t: i for i, t in enumerate(kv.index_to_key)}
    rows = np.array([index[t] for t in tokens])
    result = {}
    for start in range(0, len(rows), 1024):
        chunk = rows[start:start + 1024]
        scores = unit[chunk] @ unit.T
        scores[np.arange(len(chunk)), chunk] = -np.inf
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        for row, token in zip(top, tokens[start:start + 1024]):
            result[token] = {kv.index_to_key[i] for i in row}
    return result


def command_overlap(args):
    a = KeyedVectors.load_word2vec_format(args.a)
    b = KeyedVectors.load_word2vec_format(args.b)
    shared = sorted(set(a.index_to_key) & set(b.index_to_key))
    if args.sessions:
        counts = {}
        for session in read_sessions(args.sessions):
            for token in session:
                counts[token] = counts.get(token, 0) + 1
        shared = [t for t in shared if counts.get(t, 0) >= args.min_count]
    # Neighbours are searched among the shared tokens only, in both spaces.
    a = restrict(a, shared)
    b = restrict(b, shared)
    na = neighbours(a, shared, args.k)
    nb = neighbours(b, shared, args.k)
    overlaps = [len(na[t] & nb[t]) / args.k for t in shared]
    print(json.dumps({"tokens": len(shared), "k": args.k, "min_count": args.min_count,
                      "mean_overlap": float(np.mean(overlaps)) if overlaps else 0.0}))


def restrict(kv, tokens):
    out = KeyedVectors(vector_size=kv.vector_size)
    out.add_vectors(tokens, np.stack([kv[t] for t in tokens]))
    return out


def structured_corpus(seed=7, sessions=3000, length=20, clusters=12, per_cluster=25):
    """Sessions that wander inside one cluster of items, with rare jumps:
    neighbourhoods are clear enough that two good CBOW runs agree on them."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(sessions):
        cluster = int(rng.integers(clusters))
        session = []
        for _ in range(length):
            if rng.random() < 0.05:
                cluster = int(rng.integers(clusters))
            item = cluster * per_cluster + int(rng.zipf(1.3) % per_cluster)
            session.append(str(item))
        out.append(session)
    return out


def command_fixture(args):
    sessions = structured_corpus()
    with open(f"{args.out_dir}/structured_sessions.txt", "w", encoding="utf-8") as handle:
        for session in sessions:
            handle.write(" ".join(session) + "\n")
    model = gensim_model(sessions, seed=1, threads=1, min_count=5, vector_size=32)
    other = gensim_model(sessions, seed=2, threads=1, min_count=5, vector_size=32)
    tokens = sorted(model.wv.index_to_key, key=int)
    top = {t: [n for n, _ in model.wv.most_similar(t, topn=10)] for t in tokens}
    other_top = {t: {n for n, _ in other.wv.most_similar(t, topn=10)} for t in tokens}
    # How well gensim agrees with itself across seeds: the bar for Segue.
    seed_overlap = float(np.mean([len(set(top[t]) & other_top[t]) / 10 for t in tokens]))
    with open(f"{args.out_dir}/structured_gensim_neighbours.json", "w", encoding="utf-8") as handle:
        json.dump({"gensim": __import__("gensim").__version__, "vector_size": 32, "min_count": 5,
                   "seed_overlap": seed_overlap, "neighbours": top}, handle, indent=0, sort_keys=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train")
    p.add_argument("--sessions", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p = sub.add_parser("bench")
    p.add_argument("--corpus", required=True)
    p.add_argument("--threads", default="1,2")
    p = sub.add_parser("overlap")
    p.add_argument("--a", required=True)
    p.add_argument("--b", required=True)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--min-count", type=int, default=1)
    p.add_argument("--sessions")
    p = sub.add_parser("fixture")
    p.add_argument("--out-dir", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    {"train": command_train, "bench": command_bench, "overlap": command_overlap,
     "fixture": command_fixture}[args.command](args)


if __name__ == "__main__":
    main()
