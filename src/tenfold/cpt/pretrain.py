"""Masked-language pre-training of TinyVL on the synthetic captioned scenes, cached as safetensors.

Hand-written loop rather than ``core.train.fit``: masks are re-drawn every step (BERT's dynamic
masking with extra weight on colour and attribute words) and the schedule is warmup-then-linear,
neither of which the generic fit loop offers. The result is cached under a key of the whole
recipe, so the ~12k-step pre-training runs once per machine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tenfold.core.cache import cache_dir as core_cache_dir
from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError
from tenfold.core.io import atomic_file, atomic_write_bytes, check_input_file
from tenfold.cpt.model import REGION_TYPE, TAG_TYPE, TEXT_TYPE, TinyVL, TinyVLConfig
from tenfold.cpt.synth import FILLS, SHAPES, SIZES, jitter_boxes, pretraining_scene
from tenfold.cpt.vocabulary import COLOR_WORDS, SPECIAL_TOKENS, Vocabulary

RECIPE_VERSION = "1"
MAX_REGIONS = 5
del REGION_TYPE  # regions get their type inside the model


@dataclass(frozen=True)
class PretrainConfig:
    """The pre-training recipe (spec 5.3): 12k scenes, 12k AdamW steps of batch 32, lr 1e-3, 200 warmup."""

    scenes: int = 12_000
    steps: int = 12_000
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 200
    seed: int = 0
    hidden: int = 64
    layers: int = 3
    heads: int = 4
    ffn: int = 128
    max_text_length: int = 32
    tag_probability: float = 0.5
    snapshots: tuple[int, ...] = field(default=())  # steps at which to keep intermediate weights

    def key(self) -> str:
        text = json.dumps({**asdict(self), "recipe": RECIPE_VERSION}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    def model_config(self, vocab_size: int) -> TinyVLConfig:
        return TinyVLConfig(vocab_size, self.hidden, self.layers, self.heads, self.ffn, self.max_text_length)


def cache_dir() -> Path:
    """Where pre-trained weights live: ``$TENFOLD_CACHE/cpt`` (default ``~/.cache/tenfold/cpt``)."""
    return core_cache_dir("cpt")


@dataclass
class Corpus:
    """Pre-rendered scenes: uint8 images [N,H,W,3], boxes [N,R,4], region mask [N,R], text [N,T] + types."""

    images: np.ndarray
    boxes: np.ndarray
    region_mask: np.ndarray
    input_ids: np.ndarray
    token_types: np.ndarray
    mask_probability: np.ndarray  # [N, T] per-token chance of being masked (0 for special tokens)


def build_corpus(scenes: int, seed: int, max_text_length: int, tag_probability: float, tokenizer: Vocabulary) -> Corpus:
    """Render ``scenes`` captioned scenes; caption [SEP] optional object tags (shape names) [SEP]."""
    rng = np.random.default_rng(seed)
    images = np.zeros((scenes, 64, 64, 3), dtype=np.uint8)
    boxes = np.zeros((scenes, MAX_REGIONS, 4), dtype=np.float32)
    boxes[..., 2:] = 1.0
    region_mask = np.zeros((scenes, MAX_REGIONS), dtype=bool)
    input_ids = np.full((scenes, max_text_length), tokenizer.pad_token_id, dtype=np.int64)
    token_types = np.zeros((scenes, max_text_length), dtype=np.int64)
    probability = np.zeros((scenes, max_text_length), dtype=np.float32)
    colour_words = set(COLOR_WORDS)
    attribute_words = set(SHAPES) | set(SIZES) | set(FILLS)
    for index in range(scenes):
        scene, text = pretraining_scene(rng)
        images[index] = np.round(scene.image * 255).astype(np.uint8)
        count = len(scene.objects)
        boxes[index, :count] = jitter_boxes(np.stack([o.box for o in scene.objects]), rng)
        region_mask[index, :count] = True
        words = tokenizer.tokenize(text)[: max_text_length - 2]
        tokens = [tokenizer.cls_token, *words, tokenizer.sep_token]
        types = [TEXT_TYPE] * len(tokens)
        tags = [o.shape for o in scene.objects]
        if rng.random() < tag_probability and len(tokens) + len(tags) + 1 <= max_text_length:
            tokens += [*tags, tokenizer.sep_token]
            types += [TAG_TYPE] * (len(tags) + 1)
        ids = tokenizer.convert_tokens_to_ids(tokens)
        input_ids[index, : len(ids)] = ids
        token_types[index, : len(ids)] = types
        for position, token in enumerate(tokens):
            if token in SPECIAL_TOKENS:
                continue
            # 20% of all words, plus colour words with p=0.5 and attribute words with p=0.25.
            extra = 0.5 if token in colour_words else 0.25 if token in attribute_words else 0.0
            probability[index, position] = 1.0 - 0.8 * (1.0 - extra)
    return Corpus(images, boxes, region_mask, input_ids, token_types, probability)


def mask_tokens(
    input_ids: torch.Tensor, probability: torch.Tensor, tokenizer: Vocabulary, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking (80% [MASK], 10% random word, 10% kept), at least one target per row; labels -100 elsewhere."""
    chosen = torch.rand(probability.shape, generator=generator) < probability
    empty = ~chosen.any(dim=1)
    if empty.any():  # force one maskable token in rows that drew none
        scores = torch.rand(probability.shape, generator=generator) * (probability > 0)
        forced = scores.argmax(dim=1)
        chosen[empty, forced[empty]] = True
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    action = torch.rand(probability.shape, generator=generator)
    first_word = len(SPECIAL_TOKENS)
    random_words = torch.randint(first_word, len(tokenizer), input_ids.shape, generator=generator)
    masked = input_ids.clone()
    masked = torch.where(chosen & (action < 0.8), torch.full_like(input_ids, tokenizer.mask_token_id), masked)
    masked = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_words, masked)
    return masked, labels


def warmup_linear(step: int, warmup: int, total: int) -> float:
    """Learning-rate multiplier: linear warmup to 1, then linear decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


@dataclass
class PretrainResult:
    model: TinyVL
    losses: list[float]
    snapshots: dict[int, dict[str, torch.Tensor]]
    from_cache: bool


def pretrain(
    config: PretrainConfig,
    *,
    device: str = "cpu",
    on_step: Callable[[int, float], None] | None = None,
    checkpoint: Path | None = None,
    checkpoint_every: int = 500,
) -> PretrainResult:
    """Run the MLM pre-training recipe; returns the model, per-step losses and the requested snapshots.

    With ``checkpoint``, the full training state is saved there every ``checkpoint_every`` steps
    and a run that finds one resumes from it, giving the same weights as an uninterrupted run.
    """
    if config.steps < 1 or config.scenes < config.batch_size:
        raise BadConfigError("pre-training needs steps >= 1 and at least batch_size scenes")
    torch.manual_seed(config.seed)
    tokenizer = Vocabulary()
    corpus = build_corpus(config.scenes, config.seed, config.max_text_length, config.tag_probability, tokenizer)
    model = TinyVL(config.model_config(len(tokenizer)), tokenizer).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: warmup_linear(s, config.warmup, config.steps))
    generator = torch.Generator().manual_seed(config.seed + 1)
    images = torch.from_numpy(corpus.images)
    boxes = torch.from_numpy(corpus.boxes)
    region_mask = torch.from_numpy(corpus.region_mask)
    input_ids = torch.from_numpy(corpus.input_ids)
    types = torch.from_numpy(corpus.token_types)
    probability = torch.from_numpy(corpus.mask_probability)
    order = torch.randperm(config.scenes, generator=generator)
    cursor = 0
    start = 0
    losses: list[float] = []
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    if checkpoint is not None and Path(checkpoint).is_file():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        generator.set_state(state["generator"])
        order, cursor, start, losses, snapshots = state["order"], state["cursor"], state["step"], state["losses"], state["snapshots"]
    model.train()
    for step in range(start, config.steps):
        if cursor + config.batch_size > config.scenes:
            order = torch.randperm(config.scenes, generator=generator)
            cursor = 0
        batch = order[cursor : cursor + config.batch_size]
        cursor += config.batch_size
        length = int((input_ids[batch] != tokenizer.pad_token_id).sum(dim=1).max())  # trim shared padding
        ids = input_ids[batch, :length]
        masked, labels = mask_tokens(ids, probability[batch, :length], tokenizer, generator)
        text_states, _ = model.encode(
            (images[batch].float() / 255.0).to(device),
            boxes[batch].to(device),
            region_mask[batch].to(device),
            masked.to(device),
            (ids != tokenizer.pad_token_id).to(device),
            types[batch, :length].to(device),
        )
        labels = labels.to(device)
        targets = labels != -100
        logits = model.mlm_logits(text_states[targets])
        loss = F.cross_entropy(logits, labels[targets])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step + 1, losses[-1])
        if step + 1 in config.snapshots:
            snapshots[step + 1] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if checkpoint is not None and (step + 1) % checkpoint_every == 0 and step + 1 < config.steps:
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                     "generator": generator.get_state(), "order": order, "cursor": cursor, "step": step + 1,
                     "losses": losses, "snapshots": snapshots}
            with atomic_file(Path(checkpoint)) as temporary:
                torch.save(state, temporary)
    model.eval()
    return PretrainResult(model.cpu(), losses, snapshots, from_cache=False)


def _weights_path(config: PretrainConfig, step: int | None = None) -> Path:
    suffix = "" if step is None else f"-step{step}"
    return cache_dir() / f"tinyvl-{config.key()}{suffix}.safetensors"


def save_weights(path: Path, model_state: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write a state dict as safetensors, atomically (temp file then rename)."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in model_state.items()}
    atomic_write_bytes(path, save(tensors, metadata=metadata))


def load_weights(path: Path, *, option: str = "") -> tuple[TinyVL, dict[str, str]]:
    """Load a TinyVL saved by :func:`save_weights`; any other file ends in a named error, not a traceback."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    label = f"{option} {path}" if option else str(path)
    if not path.exists():
        raise MissingDataError(f"no pre-trained weights at {label}; run `tenfold cpt pretrain` first")
    check_input_file(path, option=option, what="TinyVL .safetensors file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise BadInputError(f"{label} is not a readable .safetensors file ({_first_line(error)}); "
                            "give weights written by `tenfold cpt pretrain -o`") from None
    if "model_config" not in metadata:
        raise BadInputError(f"{label} is not a TinyVL checkpoint (no model_config in its metadata); "
                            "give weights written by `tenfold cpt pretrain -o`")
    try:
        model = TinyVL(TinyVLConfig(**json.loads(metadata["model_config"])))
        model.load_state_dict(tensors)
    except (TypeError, ValueError, RuntimeError, KeyError) as error:
        raise BadInputError(f"{label}: the tensors do not fit the TinyVL its metadata describes "
                            f"({_first_line(error)})") from None
    broken = [name for name, tensor in tensors.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if broken:
        raise BadInputError(f"{label}: tensor {broken[0]} holds NaN or infinite values; re-run `tenfold cpt pretrain`")
    model.eval()
    return model, metadata


def _first_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return (text[:120] + "...") if len(text) > 120 else (text or type(error).__name__)


def load_or_pretrain(
    config: PretrainConfig,
    *,
    device: str = "cpu",
    on_step: Callable[[int, float], None] | None = None,
    use_cache: bool = True,
) -> PretrainResult:
    """Return cached weights for this recipe if present, else pre-train and cache them (and snapshots)."""
    path = _weights_path(config)
    snapshot_paths = {s: _weights_path(config, s) for s in config.snapshots}
    if use_cache and path.is_file() and all(p.is_file() for p in snapshot_paths.values()):
        model, metadata = load_weights(path)
        snapshots = {s: load_weights(p)[0].state_dict() for s, p in snapshot_paths.items()}
        return PretrainResult(model, json.loads(metadata.get("losses", "[]")), snapshots, from_cache=True)
    checkpoint = cache_dir() / f"tinyvl-{config.key()}.resume.pt" if use_cache else None
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
    result = pretrain(config, device=device, on_step=on_step, checkpoint=checkpoint)
    if use_cache:
        metadata = {
            "model_config": json.dumps(result.model.config.to_dict()),
            "pretrain_config": json.dumps(asdict(config)),
            "losses": json.dumps([round(v, 4) for v in result.losses]),
        }
        for step, state in result.snapshots.items():
            save_weights(snapshot_paths[step], state, {**metadata, "step": str(step)})
        save_weights(path, result.model.state_dict(), metadata)
        checkpoint.unlink(missing_ok=True)
    return result
