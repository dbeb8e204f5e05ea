#!/usr/bin/env python3
"""The fusion model of Segue in PyTorch, for a like-for-like CPU timing.

Track embedding (150) -> dropout 0.2 -> bidirectional GRU (hidden 150, the
directions summed) -> additive attention -> context; three modality tables
(150 each) pooled with the same attention; concat -> Linear 256 + LeakyReLU
-> Linear V. Adam 1e-3, cross-entropy, batch 32, histories of 20, random
data. Prints JSON with the median seconds of a training step.
Run with the python that `reference_env.sh torch` prints.
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn


class Fusion(nn.Module):
    def __init__(self, items, d=150, dense=256, modalities=3, dropout=0.2):
        super().__init__()
        self.embedding = nn.Embedding(items, d)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(d, d, batch_first=True, bidirectional=True)
        self.projection = nn.Linear(d, d)
        self.score = nn.Linear(d, 1, bias=False)
        self.modalities = nn.ModuleList([nn.Embedding(items, d) for _ in range(modalities)])
        self.dense = nn.Linear(d * (1 + modalities), dense)
        self.activation = nn.LeakyReLU(0.01)
        self.output = nn.Linear(dense, items)

    def forward(self, items):
        x = self.dropout(self.embedding(items))
        out, _ = self.gru(x)
        h = out[..., : out.shape[-1] // 2] + out[..., out.shape[-1] // 2 :]
        alpha = torch.softmax(self.score(torch.tanh(self.projection(h))).squeeze(-1), dim=1)
        contexts = [torch.bmm(alpha.unsqueeze(1), h).squeeze(1)]
        for table in self.modalities:
            values = self.dropout(table(items))
            contexts.append(torch.bmm(alpha.unsqueeze(1), values).squeeze(1))
        return self.output(self.activation(self.dense(torch.cat(contexts, dim=1))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = Fusion(args.items)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = nn.CrossEntropyLoss()
    times = []
    for step in range(args.steps + 3):
        items = torch.randint(0, args.items, (32, 20))
        targets = torch.randint(0, args.items, (32,))
        started = time.perf_counter()
        optimizer.zero_grad()
        loss = loss_function(model(items), targets)
        loss.backward()
        optimizer.step()
        loss.item()
        if step >= 3:
            times.append(time.perf_counter() - started)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "items": args.items,
                      "median_step_seconds": statistics.median(times)}))


if __name__ == "__main__":
    main()
