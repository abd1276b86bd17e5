"""A small byte-level Transformer LM whose FFN is the T5/CPM-2 gated-GELU sub-layer.

The FFN weights use InfMoE's expert layout (``ln``, ``wi0``, ``wi1``, ``wo``), so a dense FFN can be copied
into experts (:mod:`tenfold.cpm.growth`) and those experts served from disk (:mod:`tenfold.cpm.infmoe`).
The model takes token ids or ready-made input embeddings (prompt tuning) and an optional attention
block-mask (the provider / gatherer ablation).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tenfold.core.errors import BadConfigError, BadInputError


@dataclass(frozen=True)
class LMConfig:
    """Shape of a :class:`ByteLM`; stored in checkpoints so a file can rebuild its model."""

    vocab_size: int = 264
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 384
    max_len: int = 128
    causal: bool = True

    def validate(self) -> None:
        if min(self.vocab_size, self.d_model, self.n_layers, self.n_heads, self.d_ff, self.max_len) < 1:
            raise BadConfigError(f"every LMConfig size must be >= 1, got {self}")
        if self.d_model % self.n_heads:
            raise BadConfigError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")

    def to_dict(self) -> dict[str, int | bool]:
        return asdict(self)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """T5 layer norm: scale only, no mean subtraction, no bias."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def gated_ffn(x: torch.Tensor, ln: torch.Tensor, wi0: torch.Tensor, wi1: torch.Tensor, wo: torch.Tensor) -> torch.Tensor:
    """The FFN update (no residual): wo(gelu(wi0 ln x) * wi1 ln x). x [N, d] -> [N, d]."""
    h = rms_norm(x, ln)
    return F.linear(F.gelu(F.linear(h, wi0)) * F.linear(h, wi1), wo)


class GatedFFN(nn.Module):
    """Dense gated-GELU FFN; forward returns the update that the block adds to the residual."""

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.ln = nn.Parameter(torch.ones(d_model))
        self.wi0 = nn.Parameter(torch.randn(d_ff, d_model) / math.sqrt(d_model))
        self.wi1 = nn.Parameter(torch.randn(d_ff, d_model) / math.sqrt(d_model))
        self.wo = nn.Parameter(torch.randn(d_model, d_ff) / math.sqrt(d_ff))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, d] -> [B, T, d]
        return gated_ffn(x, self.ln, self.wi0, self.wi1, self.wo)


class SelfAttention(nn.Module):
    """Pre-norm multi-head self-attention (causal or bidirectional) with an optional block-mask."""

    def __init__(self, d_model: int, n_heads: int, causal: bool) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.causal = causal
        self.ln = nn.Parameter(torch.ones(d_model))
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor, block: torch.Tensor | None = None) -> torch.Tensor:
        batch, length, d = x.shape
        q, k, v = self.qkv(rms_norm(x, self.ln)).view(batch, length, 3, self.n_heads, d // self.n_heads).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, T, dh]
        allowed = None
        if self.causal:
            allowed = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
        if block is not None:  # block [B, T, T]: True = query row may NOT attend key column
            extra = ~block[:, None]
            allowed = extra if allowed is None else (allowed & extra)
            # a query that may attend nothing would give NaN; let it attend itself
            allowed = allowed | torch.eye(length, dtype=torch.bool, device=x.device)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        return self.out(y.transpose(1, 2).reshape(batch, length, d))


class Block(nn.Module):
    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.attn = SelfAttention(config.d_model, config.n_heads, config.causal)
        self.ffn: nn.Module = GatedFFN(config.d_model, config.d_ff)

    def forward(self, x: torch.Tensor, block: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(x, block)
        return x + self.ffn(x)


class ByteLM(nn.Module):
    """Byte-level LM (tied input/output embeddings, learned absolute positions). ids [B, T] -> logits [B, T, V]."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        nn.init.normal_(self.embed.weight, std=0.5)
        self.pos = nn.Parameter(torch.randn(config.max_len, config.d_model) * 0.02)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.Parameter(torch.ones(config.d_model))

    def forward(
        self,
        ids: torch.Tensor | None = None,
        embeds: torch.Tensor | None = None,
        block: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if (ids is None) == (embeds is None):
            raise BadInputError("give exactly one of ids or embeds to ByteLM.forward")
        if ids is not None:
            if ids.min() < 0 or ids.max() >= self.config.vocab_size:
                raise BadInputError(
                    f"token ids must lie in [0, {self.config.vocab_size}); negative ids are prompt slots — "
                    "embed them with a PromptEncoder first"
                )
            embeds = self.embed(ids)
        assert embeds is not None
        length = embeds.shape[1]
        if length > self.config.max_len:
            raise BadInputError(f"sequence of {length} tokens exceeds max_len={self.config.max_len}; truncate it")
        x = embeds + self.pos[:length]
        for layer in self.blocks:
            x = layer(x, block)
        return F.linear(rms_norm(x, self.ln_f), self.embed.weight)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Mean next-token cross-entropy over the supervised positions (targets != ignore_index)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=ignore_index)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def save_lm(model: ByteLM, path: str | Path) -> None:
    """Write weights + config to a safetensors file atomically (readers never see half a model)."""
    import json

    from tenfold.core.io import atomic_save_safetensors

    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    atomic_save_safetensors(Path(path), tensors, metadata={"tenfold_cpm_lm": json.dumps(model.config.to_dict())})


def load_lm(path: str | Path, *, option: str = "") -> ByteLM:
    """Rebuild a :class:`ByteLM` saved by :func:`save_lm`; a missing, empty, foreign or damaged file is a named
    error (``option`` names the command-line option it came from)."""
    import json

    from safetensors import SafetensorError, safe_open

    from tenfold.core.io import check_input_file

    path = check_input_file(path, option=option, what="model file (.safetensors from `tenfold cpm pretrain`)")
    label = f"{option} {path}" if option else str(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118 - safe_open has no iterator
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        reason = " ".join(str(error).split())[:120]
        raise BadInputError(f"{label} is not a readable safetensors model ({reason}); give a file from "
                            "`tenfold cpm pretrain`") from None
    if "tenfold_cpm_lm" not in meta:
        raise BadInputError(f"{label} has no tenfold cpm model config; it was not written by `tenfold cpm pretrain`")
    try:
        config = LMConfig(**json.loads(meta["tenfold_cpm_lm"]))
        config.validate()
    except (ValueError, TypeError, BadConfigError) as error:
        raise BadInputError(f"{label}: its model config is damaged ({error}); re-train or re-save it") from None
    model = ByteLM(config)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as error:
        raise BadInputError(f"{label}: weights do not match its config ({str(error).splitlines()[0]})") from None
    return model
