"""The SASRec network and its training loop (torch, CPU), kept apart from the recipe plumbing.

Item ids are shifted by one so that 0 is padding. Sequences are left-padded to ``max_len``; positions are
counted from the most recent event, so position embedding 0 always means "latest" (recency-aware).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


class Block(nn.Module):
    """Pre-norm transformer block; causal attention through ``scaled_dot_product_attention`` (fused kernel)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(batch, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        p = self.dropout.p if self.training else 0.0
        attended = nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        x = x + self.dropout(self.out(attended.transpose(1, 2).reshape(batch, length, dim)))
        return x + self.dropout(self.ff(self.norm2(x)))


class SASRecNet(nn.Module):
    """Causal self-attention over the item history; tied input/output item embeddings.

    References
    ----------
    W.-C. Kang, J. McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018.
    """

    def __init__(
        self, n_items: int, n_types: int, dim: int, blocks: int, heads: int, max_len: int, dropout: float,
        use_positions: bool = True,
    ) -> None:
        super().__init__()
        self.items = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.types = nn.Embedding(n_types + 1, dim, padding_idx=0)
        self.positions = nn.Embedding(max_len, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, dropout) for _ in range(blocks))
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.scale = math.sqrt(dim)
        self.use_positions = use_positions
        nn.init.normal_(self.items.weight, std=dim**-0.5)
        with torch.no_grad():
            self.items.weight[0].zero_()

    def forward(self, items: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        """Hidden states (batch, length, dim) for left-padded ``items`` / ``types`` (batch, length)."""
        length = items.shape[1]
        x = self.items(items) * self.scale + self.types(types)
        if self.use_positions:  # recency_mask=False: an order-free bag of events
            recency = torch.arange(length - 1, -1, -1, device=items.device)
            x = x + self.positions(recency)[None]
        x = self.dropout(x) * (items > 0).unsqueeze(-1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def logits(self, hidden: torch.Tensor, item_rows: torch.Tensor | None = None) -> torch.Tensor:
        """Dot products with all item embeddings (or only ``item_rows``); column 0 is padding."""
        weights = self.items.weight if item_rows is None else self.items.weight[item_rows]
        return hidden @ weights.T


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    negatives: int  # 0 = full softmax
    max_seconds: float
    patience: int
    seed: int


def windows(items: np.ndarray, types: np.ndarray, offsets: np.ndarray, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut every user's sequence (shifted ids) into left-padded windows of max_len + 1, newest first.

    Long histories give several windows (stride max_len, so every transition is trained once); each
    window's first max_len tokens are inputs and its last max_len tokens the targets.
    """
    starts, stops = [], []
    for user in range(len(offsets) - 1):
        lo, hi = int(offsets[user]), int(offsets[user + 1])
        end = hi
        while end - lo >= 2:
            starts.append(max(lo, end - max_len - 1))
            stops.append(end)
            end -= max_len
    n = len(starts)
    out_items = np.zeros((n, max_len + 1), dtype=np.int64)
    out_types = np.zeros((n, max_len + 1), dtype=np.int64)
    for row, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        out_items[row, max_len + 1 - (stop - start) :] = items[start:stop] + 1
        out_types[row, max_len + 1 - (stop - start) :] = types[start:stop] + 1
    return out_items, out_types


def left_pad(rows: list[np.ndarray], max_len: int) -> np.ndarray:
    """Left-pad/truncate ragged rows (already shifted) to (n, max_len), keeping the newest events."""
    out = np.zeros((len(rows), max_len), dtype=np.int64)
    for i, row in enumerate(rows):
        tail = row[-max_len:]
        if len(tail):
            out[i, max_len - len(tail) :] = tail
    return out


def train(
    net: SASRecNet,
    seq_items: np.ndarray,
    seq_types: np.ndarray,
    config: TrainConfig,
    validate: Callable[[], float] | None = None,
) -> dict[str, float]:
    """AdamW with warm-up and cosine decay; keeps the weights of the best validation epoch (early stopping).

    The schedule follows progress = max(steps done / steps planned, seconds used / time budget), so a run
    cut short by the budget still anneals instead of stopping at its peak learning rate. (A run that
    finishes its epochs within the budget is reproducible; one paced by the clock is not.)
    """
    generator = torch.Generator().manual_seed(config.seed)
    n_items = net.items.num_embeddings - 1
    steps_per_epoch = max(1, math.ceil(len(seq_items) / config.batch_size))
    total = steps_per_epoch * config.epochs
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    items_t, types_t = torch.from_numpy(seq_items), torch.from_numpy(seq_types)
    started, best, best_state, stale, done, epoch = time.perf_counter(), -1.0, None, 0, 0, 0
    for epoch in range(config.epochs):
        net.train()
        order = torch.randperm(len(seq_items), generator=generator)
        for step in range(steps_per_epoch):
            progress = max(done / total, (time.perf_counter() - started) / config.max_seconds)
            if progress >= 1.0:
                break
            for group in optimiser.param_groups:
                group["lr"] = config.learning_rate * _warmup_cosine(progress)
            batch = order[step * config.batch_size : (step + 1) * config.batch_size]
            loss = _loss(net, items_t[batch], types_t[batch], n_items, config.negatives, generator)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimiser.step()
            done += 1
        if validate is not None:
            score = validate()
            if score > best:
                best, stale = score, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                stale += 1
        if stale >= config.patience or time.perf_counter() - started >= config.max_seconds:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    return {"epochs": epoch + 1, "steps": done, "validation": best, "seconds": time.perf_counter() - started}


def _warmup_cosine(progress: float, warmup: float = 0.1) -> float:
    if progress < warmup:
        return max(progress / warmup, 0.01)
    return 0.5 * (1.0 + math.cos(math.pi * (progress - warmup) / (1.0 - warmup)))


def _loss(
    net: SASRecNet, items: torch.Tensor, types: torch.Tensor, n_items: int, negatives: int, generator: torch.Generator
) -> torch.Tensor:
    """Cross-entropy of the next item at every non-padding position (full or sampled softmax)."""
    inputs, input_types, targets = items[:, :-1], types[:, :-1], items[:, 1:]
    keep = (targets > 0) & (inputs > 0)
    hidden = net(inputs, input_types)[keep]
    positives = targets[keep]
    if negatives <= 0 or negatives >= n_items:
        return nn.functional.cross_entropy(net.logits(hidden)[:, 1:], positives - 1)
    # Shared uniform negatives for the whole batch (sampled softmax); accidental hits are masked out.
    sampled = torch.randint(1, n_items + 1, (negatives,), generator=generator)
    positive_logit = (hidden * net.items(positives)).sum(-1, keepdim=True)
    negative_logits = net.logits(hidden, sampled).masked_fill(sampled[None, :] == positives[:, None], -1e9)
    logits = torch.cat([positive_logit, negative_logits], dim=1)
    return nn.functional.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long))
