"""Train a small PyTorch model from ArrayRecord shards with DataLoader worker processes.

    pip install torch==2.13.0 && pip install "mmrecord[torch]"
    python examples/torch_example.py

Writes 4 shards of 8,192 examples (8 float32 features and a target each) to a
temporary folder, then trains a linear model for two epochs with
``DataLoader(num_workers=2, shuffle=True)``. Each batch of 256 indices is read
with one ``__getitems__`` call.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from mmrecord.torch import ArrayRecordDataset

from regression_shards import FEATURES, TRUE_WEIGHTS, write_shards  # the toy data, beside this file


def collate(records: list[bytes]) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of raw records -> (features, targets); runs in the worker processes."""
    raw = bytearray(b"".join(records))  # writable, as torch.from_numpy wants
    rows = torch.from_numpy(np.frombuffer(raw, np.float32).reshape(len(records), FEATURES + 1))
    return rows[:, :FEATURES], rows[:, FEATURES]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pattern = write_shards(Path(tmp))
        dataset = ArrayRecordDataset(pattern)
        print(f"dataset: {dataset.source!r}")
        loader = DataLoader(dataset, batch_size=256, shuffle=True, num_workers=2, collate_fn=collate,
                            multiprocessing_context="spawn", persistent_workers=True)
        model = torch.nn.Linear(FEATURES, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        for epoch in range(2):
            started, steps, total = time.perf_counter(), 0, 0.0
            for features, targets in loader:
                loss = torch.nn.functional.mse_loss(model(features).squeeze(1), targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                steps, total = steps + 1, total + loss.item()
            elapsed = time.perf_counter() - started
            print(f"epoch {epoch}: {steps} steps, mean loss {total / steps:.5f}, "
                  f"{len(dataset) / elapsed:,.0f} examples/s")
        learned = model.weight.detach().numpy().ravel()
        print("learned weights:", np.round(learned, 3))
        print("true weights:   ", np.round(TRUE_WEIGHTS, 3))


if __name__ == "__main__":  # the guard spawn workers need
    main()
