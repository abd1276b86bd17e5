"""MotifsLite: a CPU-sized Neural Motifs (object context by a BiLSTM over objects sorted left to right)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tenfold.ietrans.frequency_bias import FrequencyBias


def box_features(boxes: torch.Tensor) -> torch.Tensor:
    """(B, N, 4) normalised x1y1x2y2 -> (B, N, 9): corners, centre, size, area."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    w, h = (x2 - x1), (y2 - y1)
    return torch.stack([x1, y1, x2, y2, (x1 + x2) / 2, (y1 + y2) / 2, w, h, w * h], -1)


class MotifsLite(nn.Module):
    """Object embedding + box encoding -> BiLSTM context (sorted by centre x, as Motifs) -> pair head."""

    def __init__(
        self,
        num_object_classes: int,
        num_predicates: int,
        feature_dim: int = 0,
        embedding_dim: int = 64,
        box_dim: int = 32,
        hidden: int = 128,
        head_hidden: int = 256,
        frequency_bias: FrequencyBias | None = None,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_object_classes + 1, embedding_dim)
        self.box_encoder = nn.Sequential(nn.Linear(9, box_dim), nn.ReLU())
        self.context = nn.LSTM(embedding_dim + box_dim, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(
            nn.Linear(4 * hidden + 9 + feature_dim, head_hidden),
            nn.ReLU(),
            nn.Linear(head_hidden, num_predicates + 1),
        )
        self.frequency_bias = frequency_bias

    def forward(
        self,
        labels: torch.Tensor,  # (B, N) long, 0 = padding
        boxes: torch.Tensor,  # (B, N, 4) normalised x1y1x2y2
        pair_subject: torch.Tensor,  # (B, Q) long local indices
        pair_object: torch.Tensor,  # (B, Q)
        pair_geometry: torch.Tensor,  # (B, Q, 9)
        pair_features: torch.Tensor,  # (B, Q, D)
    ) -> torch.Tensor:  # (B, Q, P + 1)
        valid = labels > 0
        lengths = valid.sum(1).clamp(min=1)
        centre_x = (boxes[..., 0] + boxes[..., 2]) / 2
        order = torch.argsort(torch.where(valid, centre_x, torch.full_like(centre_x, 1e9)), dim=1, stable=True)
        x = torch.cat([self.embedding(labels), self.box_encoder(box_features(boxes))], -1)  # (B, N, E + box)
        x = torch.gather(x, 1, order.unsqueeze(-1).expand_as(x))
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        context, _ = pad_packed_sequence(self.context(packed)[0], batch_first=True, total_length=labels.shape[1])
        unsorted = torch.empty_like(context)
        unsorted.scatter_(1, order.unsqueeze(-1).expand_as(context), context)  # back to input order, (B, N, 2H)
        gather = lambda index: torch.gather(unsorted, 1, index.unsqueeze(-1).expand(-1, -1, unsorted.shape[-1]))  # noqa: E731
        pair = torch.cat([gather(pair_subject), gather(pair_object), pair_geometry, pair_features], -1)
        logits = self.head(pair)
        if self.frequency_bias is not None:
            subject_class = torch.gather(labels, 1, pair_subject)
            object_class = torch.gather(labels, 1, pair_object)
            logits = logits + self.frequency_bias(subject_class, object_class)
        return logits
