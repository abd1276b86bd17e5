"""The ps-LSTM network (Tsai, Kuo & Tiwary 2020): Embedding -> LSTM -> Linear over state tokens."""

from __future__ import annotations

import torch
from torch import nn


class StateLSTM(nn.Module):
    """Next-state language model; the hidden state is reset per training window and carried in generation."""

    def __init__(self, vocab_size: int, embedding_dim: int = 16, hidden_dim: int = 64, n_layers: int = 1) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, num_layers=n_layers, batch_first=True)
        self.head = nn.Linear(hidden_dim, vocab_size)

    def forward(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        # tokens (B, T) -> logits (B, T, V); state = (h, c), each (layers, B, H)
        hidden, state = self.lstm(self.embedding(tokens), state)
        return self.head(hidden), state
