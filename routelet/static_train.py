"""Fine-tune the static tier's token rows on the training rows (one step of ``routelet distill``).

``finetune_rows`` starts from the distilled rows (model2vec's, SIF-weighted) and a linear
head fitted on them, and trains both with Adam on the same soft targets the head is fitted
to (gold label mixed with the encoder's probabilities, classes balanced). The model is
exactly what the numpy runtime computes: the sum of a text's token rows, L2-normalised,
times the head. Only the rows of tokens that occur in the training texts move; every
other row comes back unchanged.

It returns float rows; ``routelet.distill`` quantises them and refits the head and its
temperature on the quantised rows, so serving never sees these float weights. It reads no
file and never looks at evaluation data. Needs torch (the ``train`` extra).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class RowTraining:
    """Hyperparameters of the row fine-tuning (chosen on the calibration split)."""

    epochs: int = 1
    rows_learning_rate: float = 1e-3
    head_learning_rate: float = 1e-2
    batch_size: int = 64
    seed: int = 0


def finetune_rows(
    rows: NDArray[np.floating],
    token_ids: list[list[int]],
    targets: NDArray[np.floating],
    sample_weight: NDArray[np.floating],
    coef: NDArray[np.floating],
    intercept: NDArray[np.floating],
    training: RowTraining,
) -> NDArray[np.float32]:
    """Token rows (V, D) trained so that the head on pooled rows fits ``targets`` (n, k).

    ``token_ids[i]`` are text ``i``'s token ids as the runtime tokenises it; a text with
    none contributes nothing. ``coef`` (k, D) and ``intercept`` (k,) start the head.
    """
    import torch

    if len(token_ids) != len(targets) or len(targets) != len(sample_weight):
        raise ValueError(
            f"{len(token_ids)} texts, {len(targets)} targets, {len(sample_weight)} weights"
        )
    torch.manual_seed(training.seed)
    table = torch.nn.Parameter(torch.tensor(np.asarray(rows, dtype=np.float32)))  # (V, D)
    weight = torch.nn.Parameter(torch.tensor(np.asarray(coef, dtype=np.float32)))  # (k, D)
    bias = torch.nn.Parameter(torch.tensor(np.asarray(intercept, dtype=np.float32)))  # (k,)
    # fused: one kernel per step over the whole (V, D) table, 4x faster than the default
    # per-tensor loop on CPU (5.7 against 23 ms a step for 29,524 x 256 rows, 2 cores).
    optimizer = torch.optim.Adam(
        [
            {"params": [table], "lr": training.rows_learning_rate},
            {"params": [weight, bias], "lr": training.head_learning_rate},
        ],
        fused=True,
    )
    goal = torch.tensor(np.asarray(targets, dtype=np.float32))  # (n, k)
    row_weight = torch.tensor(np.asarray(sample_weight, dtype=np.float32))  # (n,)
    usable = np.array([i for i, ids in enumerate(token_ids) if ids])
    rng = np.random.default_rng(training.seed)
    for _ in range(training.epochs):
        order = usable[rng.permutation(len(usable))]
        for start in range(0, len(order), training.batch_size):
            batch = order[start : start + training.batch_size]
            flat = torch.tensor([t for i in batch for t in token_ids[i]], dtype=torch.long)
            lengths = [len(token_ids[i]) for i in batch]
            offsets = torch.tensor(np.cumsum([0, *lengths[:-1]]), dtype=torch.long)
            pooled = torch.nn.functional.embedding_bag(flat, table, offsets, mode="sum")
            unit = pooled / (pooled.norm(dim=1, keepdim=True) + 1e-32)  # (b, D)
            log_p = torch.log_softmax(unit @ weight.T + bias, dim=1)  # (b, k)
            loss = -(row_weight[batch, None] * goal[batch] * log_p).sum(dim=1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    result: NDArray[np.float32] = table.detach().numpy().copy()
    return result
