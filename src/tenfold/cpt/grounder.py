"""CPTGrounder: visual grounding as fill-in-the-blank with colour marks (zero-shot and few-shot).

For each proposal (single mode) or subset of proposals (multi mode) a coloured copy of the image
is made, the backbone reads "{query} is in [MASK] color ." with the copy's regions, and the MLM
head's log-probability of the mark's colour word scores the proposal. Few-shot tuning trains the
whole backbone with the same MLM loss (positive copy -> colour word, negative copy -> "none"), so
no parameter is added.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.cpt.examples import GroundingExample, draw_shots
from tenfold.cpt.marking import as_rgb_image, box_iou, check_alpha, check_boxes, check_rgb, mark
from tenfold.cpt.prompt import DEFAULT_TEMPLATE, Prompt, build_prompt, check_template, single_token_id

RED = ("red", (240, 0, 30))  # the released code's single colour (RGBA 240, 0, 30, 127)


@dataclass
class GroundingScores:
    """Per-proposal scores (higher is better), their softmax, the choice and how it was obtained."""

    scores: np.ndarray
    probabilities: np.ndarray
    best: int
    color_word: str
    mode: str
    copies: int
    scored: bool = True
    notes: list[str] = field(default_factory=list)


@dataclass
class FewShotRun:
    """One K-shot fit: the seed, the pool ids it drew (shared with the baseline) and the fitted grounder."""

    k: int
    seed: int
    shot_ids: list[int]
    grounder: Any
    skipped: int = 0


def _as_batch(
    images: Sequence[np.ndarray], boxes: Sequence[np.ndarray], prompts: Sequence[Prompt], pad_id: int, device: str
) -> dict[str, torch.Tensor]:
    """Stack same-sized images and pad boxes/tokens: images [B,H,W,3], boxes [B,R,4], ids [B,T]."""
    regions = max(len(b) for b in boxes)
    length = max(len(p.input_ids) for p in prompts)
    count = len(images)
    box_tensor = torch.zeros(count, regions, 4)
    box_tensor[..., 2:] = 1.0
    region_mask = torch.zeros(count, regions, dtype=torch.bool)
    ids = torch.full((count, length), pad_id, dtype=torch.long)
    types = torch.zeros(count, length, dtype=torch.long)
    attention = torch.zeros(count, length, dtype=torch.bool)
    for row, (box, prompt) in enumerate(zip(boxes, prompts, strict=True)):
        box_tensor[row, : len(box)] = torch.as_tensor(box)
        region_mask[row, : len(box)] = True
        ids[row, : len(prompt.input_ids)] = torch.as_tensor(prompt.input_ids)
        types[row, : len(prompt.token_types)] = torch.as_tensor(prompt.token_types)
        attention[row, : len(prompt.input_ids)] = True
    return {
        "images": torch.as_tensor(np.stack(images)).to(device),
        "boxes": box_tensor.to(device),
        "region_mask": region_mask.to(device),
        "input_ids": ids.to(device),
        "attention_mask": attention.to(device),
        "token_type_ids": types.to(device),
    }


def _group_by_size(indices: Sequence[int], images: Sequence[np.ndarray]) -> list[list[int]]:
    groups: dict[tuple[int, ...], list[int]] = {}
    for index in indices:
        groups.setdefault(images[index].shape, []).append(index)
    return list(groups.values())


def warmup_linear_schedule(optimizer: torch.optim.Optimizer, steps: int, warmup_fraction: float = 0.1) -> Any:
    """10% linear warmup, then linear decay to zero (the spec's few-shot schedule)."""
    warmup = max(1, int(round(steps * warmup_fraction)))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class CPTGrounder:
    """Colour-prompt grounding over any masked-language VL backbone (``encode`` + ``mlm_logits``).

    colors: (word, rgb) pairs; single mode uses the first (one copy per proposal), multi mode
    colours up to len(colors) proposals per copy. score: "logprob" (log P(word)) or
    "none_normalized" (log P(word) - log P(negative_word)); ``code_compat`` uses the released
    code's raw logit ratio instead (its sign flips for negative logits; kept for comparison only).
    """

    def __init__(
        self,
        backbone: Any,
        *,
        colors: Sequence[tuple[str, Sequence[int]]] = (RED,),
        alpha: float = 0.5,
        template: str = DEFAULT_TEMPLATE,
        mode: str = "single",
        score: str = "logprob",
        negative_word: str = "none",
        code_compat: bool = False,
        colored_tags: bool = False,
        fallback_colors: Sequence[tuple[str, Sequence[int]]] = (),
        overlap_limit: float = 0.3,
        calibrate_anchor: bool = True,
        max_batch_copies: int = 100,
        device: str = "cpu",
    ) -> None:
        self.backbone = backbone
        self.tokenizer = backbone.tokenizer
        self.alpha = check_alpha(alpha)
        check_template(template, self.tokenizer)
        self.template = template
        if mode not in ("single", "multi"):
            raise BadConfigError(f"mode {mode!r} is unknown; use 'single' or 'multi'")
        if score not in ("logprob", "none_normalized"):
            raise BadConfigError(f"score {score!r} is unknown; use 'logprob' or 'none_normalized'")
        if max_batch_copies < 1:
            raise BadConfigError("max_batch_copies must be >= 1")
        if not 0.0 <= overlap_limit <= 1.0:
            raise BadConfigError(f"overlap_limit {overlap_limit} must lie in [0, 1]")
        self.colors = self._check_colors(colors, "colors")
        self.fallback_colors = self._check_colors(fallback_colors, "fallback_colors") if fallback_colors else []
        self.mode = mode
        self.score_kind = score
        self.negative_word = negative_word
        self.negative_id = self._word_id(negative_word) if (score == "none_normalized" or code_compat) else None
        self.code_compat = code_compat
        self.colored_tags = colored_tags
        self.overlap_limit = overlap_limit
        self.calibrate_anchor = calibrate_anchor
        self.max_batch_copies = int(max_batch_copies)
        self.device = device

    # ----- validation -----------------------------------------------------------------------
    def _word_id(self, word: str) -> int:
        return single_token_id(self.tokenizer, word)

    def _check_colors(self, colors: Sequence[tuple[str, Sequence[int]]], what: str) -> list[tuple[str, tuple[int, int, int], int]]:
        if not colors:
            raise BadConfigError(f"{what}: give at least one (word, rgb) colour")
        checked = [(str(word), check_rgb(rgb), self._word_id(str(word))) for word, rgb in colors]
        words = [c[0] for c in checked]
        rgbs = [c[1] for c in checked]
        if len(set(words)) != len(words):
            raise BadConfigError(f"{what}: duplicate colour words {words}")
        if len(set(rgbs)) != len(rgbs):
            raise BadConfigError(f"{what}: duplicate RGB values {rgbs}")
        return checked

    def _colors_for(self, query: str, notes: list[str]) -> list[tuple[str, tuple[int, int, int], int]]:
        """The marker colours, replacing any colour the query itself names (it would bias the MLM)."""
        query_tokens = set(self.tokenizer.tokenize(query))
        chosen = []
        spare = [c for c in self.fallback_colors + self.colors if c[0] not in query_tokens]
        for color in self.colors:
            if color[0] not in query_tokens:
                chosen.append(color)
                continue
            replacement = next((c for c in spare if c not in chosen and c[0] not in {x[0] for x in chosen}), None)
            if replacement is None:
                raise BadInputError(
                    f"query {query!r} names the marker colour {color[0]!r} and no other colour is available; "
                    "pass fallback_colors"
                )
            message = f"query names the marker colour {color[0]!r}; marking with {replacement[0]!r} instead"
            warnings.warn(message, stacklevel=3)
            notes.append(message)
            chosen.append(replacement)
        return chosen

    # ----- scoring --------------------------------------------------------------------------
    def _mask_logits(self, images: list[np.ndarray], boxes: list[np.ndarray], prompts: list[Prompt]) -> torch.Tensor:
        """MLM logits at each copy's [MASK], streamed in batches of ``max_batch_copies``: -> [copies, V]."""
        outputs = []
        for start in range(0, len(images), self.max_batch_copies):
            stop = start + self.max_batch_copies
            batch = _as_batch(images[start:stop], boxes[start:stop], prompts[start:stop], self.tokenizer.pad_token_id, self.device)
            text_states, _ = self.backbone.encode(**batch)
            positions = torch.as_tensor([p.mask_index for p in prompts[start:stop]], device=text_states.device)
            at_mask = text_states[torch.arange(len(positions), device=text_states.device), positions]
            outputs.append(self.backbone.mlm_logits(at_mask).float().cpu())
        return torch.cat(outputs)

    def _prompt(self, query: str, tags: list[str] | None, colored: dict[int, str] | None = None) -> Prompt:
        if self.colored_tags and tags is not None and colored:
            tags = [f"{colored[i]} {t}" if i in colored else t for i, t in enumerate(tags)]
        return build_prompt(self.tokenizer, query, self.template, self.backbone.max_text_length, tags)

    def score(
        self,
        image: np.ndarray,
        proposals: np.ndarray | Sequence,
        query: str,
        *,
        box_format: str = "xyxy",
        masks: np.ndarray | None = None,
        tags: list[str] | None = None,
    ) -> GroundingScores:
        """Score every proposal for the query; masks (n, H, W) give CPT-Seg marks instead of boxes."""
        picture = as_rgb_image(image)
        height, width = picture.shape[:2]
        boxes = check_boxes(proposals, height, width, box_format)
        if masks is not None:
            masks = np.asarray(masks).astype(bool)
            if masks.ndim != 3 or masks.shape != (len(boxes), height, width):
                raise BadInputError(f"masks: shape {masks.shape} does not match ({len(boxes)}, {height}, {width})")
        if tags is not None and len(tags) != len(boxes):
            raise BadInputError(f"tags: {len(tags)} tags for {len(boxes)} proposals")
        if self.colored_tags and tags is None:
            raise BadConfigError("colored_tags=True needs the proposals' tags (detector class names)")
        notes: list[str] = []
        colors = self._colors_for(query, notes)
        if len(boxes) == 1:
            notes.append("one proposal: returned without scoring")
            return GroundingScores(np.zeros(1), np.ones(1), 0, colors[0][0], self.mode, 0, scored=False, notes=notes)
        mode = self.mode
        if mode == "multi" and len(colors) < 2:
            mode = "single"
        if mode == "multi":
            subsets = self._subsets(len(boxes))
            if self._overlapping(boxes, subsets):
                message = f"proposals in a subset overlap above IoU {self.overlap_limit}; falling back to single mode"
                warnings.warn(message, stacklevel=2)
                notes.append(message)
                mode = "single"
        with torch.no_grad():
            if mode == "single":
                scores, copies = self._score_single(picture, boxes, masks, query, tags, colors[0])
            else:
                scores, copies = self._score_multi(picture, boxes, masks, query, tags, colors, subsets)
        probabilities = torch.softmax(torch.as_tensor(scores, dtype=torch.float64), dim=0).numpy()
        best = int(np.argmax(scores))  # first maximum: deterministic tie-break
        return GroundingScores(scores, probabilities, best, colors[0][0], mode, copies, notes=notes)

    def mask_log_probabilities(
        self, image: np.ndarray, proposals: np.ndarray | Sequence, query: str, *, tags: list[str] | None = None
    ) -> np.ndarray:
        """Single-mode log P(word | copy i) over the whole vocabulary: [n, V] (one marked copy per proposal)."""
        return self.mask_log_probabilities_many([GroundingExample(image, np.asarray(proposals), query, tags=tags)])[0]

    def mask_log_probabilities_many(self, examples: Sequence[GroundingExample]) -> list[np.ndarray]:
        """:meth:`mask_log_probabilities` for many queries, with copies of different queries batched together."""
        copies, boxes_per_copy, prompts, sizes = [], [], [], []
        for example in examples:
            picture = as_rgb_image(example.image)
            boxes = check_boxes(example.proposals, picture.shape[0], picture.shape[1])
            word, rgb, _ = self._colors_for(example.query, [])[0]
            masks = None if example.masks is None else np.asarray(example.masks).astype(bool)
            for index in range(len(boxes)):
                region_masks = None if masks is None else masks[index : index + 1]
                copies.append(mark(picture, boxes[index : index + 1], rgb, self.alpha, masks=region_masks))
                boxes_per_copy.append(boxes)
                prompts.append(self._prompt(example.query, example.tags, {index: word}))
            sizes.append(len(boxes))
        logits = torch.zeros(len(copies), 0)
        with torch.no_grad():
            for group in _group_by_size(range(len(copies)), copies):
                group_logits = self._mask_logits([copies[i] for i in group], [boxes_per_copy[i] for i in group],
                                                 [prompts[i] for i in group])
                if logits.shape[1] == 0:
                    logits = torch.zeros(len(copies), group_logits.shape[1])
                logits[group] = group_logits
        log_probabilities = F.log_softmax(logits, dim=-1).numpy()
        return np.split(log_probabilities, np.cumsum(sizes)[:-1])

    def predict_many(self, examples: Sequence[GroundingExample]) -> list[int]:
        """Chosen proposal per example; single-mode copies of all examples are batched together."""
        if self.mode != "single" or self.code_compat:
            return [self.predict(e.image, e.proposals, e.query, tags=e.tags) for e in examples]
        choices = []
        for example, log_p in zip(examples, self.mask_log_probabilities_many(examples), strict=True):
            word_id = self._colors_for(example.query, [])[0][2]
            scores = log_p[:, word_id]
            if self.score_kind == "none_normalized":
                scores = scores - log_p[:, self.negative_id]
            choices.append(int(np.argmax(scores)))
        return choices

    def predict(self, image: np.ndarray, proposals: np.ndarray, query: str, *, tags: list[str] | None = None, **kwargs: Any) -> int:
        """Index of the proposal the query refers to."""
        return self.score(image, proposals, query, tags=tags, **kwargs).best

    def _score_single(self, picture, boxes, masks, query, tags, color) -> tuple[np.ndarray, int]:
        word, rgb, word_id = color
        copies, prompts = [], []
        for index in range(len(boxes)):
            region_masks = None if masks is None else masks[index : index + 1]
            copies.append(mark(picture, boxes[index : index + 1], rgb, self.alpha, masks=region_masks))
            prompts.append(self._prompt(query, tags, {index: word}))
        logits = self._mask_logits(copies, [boxes] * len(copies), prompts)
        return self._word_scores(logits, word_id).numpy(), len(copies)

    def _word_scores(self, logits: torch.Tensor, word_id: int) -> torch.Tensor:
        if self.code_compat:
            return logits[:, word_id] / logits[:, self.negative_id]
        log_probabilities = F.log_softmax(logits, dim=-1)
        scores = log_probabilities[:, word_id]
        if self.score_kind == "none_normalized":
            scores = scores - log_probabilities[:, self.negative_id]
        return scores

    def _subsets(self, count: int) -> list[list[int]]:
        """Groups of at most K proposals; with anchor calibration, groups after the first start with proposal 0."""
        k = len(self.colors)
        if not self.calibrate_anchor:
            return [list(range(s, min(s + k, count))) for s in range(0, count, k)]
        subsets = [list(range(min(k, count)))]
        rest = list(range(k, count))
        for start in range(0, len(rest), k - 1):
            subsets.append([0, *rest[start : start + k - 1]])
        return subsets

    def _overlapping(self, boxes: np.ndarray, subsets: list[list[int]]) -> bool:
        for subset in subsets:
            chosen = torch.as_tensor(boxes[subset])
            iou = box_iou(chosen, chosen)
            iou.fill_diagonal_(0.0)
            if float(iou.max()) > self.overlap_limit:
                return True
        return False

    def _score_multi(self, picture, boxes, masks, query, tags, colors, subsets) -> tuple[np.ndarray, int]:
        copies, prompts = [], []
        for subset in subsets:
            palette = [colors[slot][1] for slot in range(len(subset))]
            region_masks = None if masks is None else masks[subset]
            copies.append(mark(picture, boxes[subset], palette, self.alpha, masks=region_masks))
            prompts.append(self._prompt(query, tags, {index: colors[slot][0] for slot, index in enumerate(subset)}))
        logits = self._mask_logits(copies, [boxes] * len(copies), prompts)
        word_ids = torch.as_tensor([c[2] for c in colors])
        # P(v_i) = softmax over the colour words C at [MASK], read at the proposal's colour.
        restricted = F.log_softmax(logits[:, word_ids], dim=-1)  # [copies, K]
        scores = np.full(len(boxes), -np.inf)
        anchor_reference = float(restricted[0, 0])
        for copy_index, subset in enumerate(subsets):
            shift = 0.0
            if self.calibrate_anchor and copy_index > 0:
                shift = anchor_reference - float(restricted[copy_index, 0])  # put the anchor on subset 0's scale
            for slot, index in enumerate(subset):
                if self.calibrate_anchor and copy_index > 0 and slot == 0:
                    continue
                scores[index] = float(restricted[copy_index, slot]) + shift
        return scores, len(copies)

    # ----- few-shot ---------------------------------------------------------------------------
    def fit(
        self,
        examples: Sequence[GroundingExample],
        *,
        steps: int = 100,
        lr: float = 1e-4,
        seed: int = 0,
        negative_word: str | None = None,
    ) -> CPTGrounder:
        """Few-shot CPT: tune a copy of the backbone with the MLM loss; returns a new grounder.

        Each step sees every shot twice: the ground-truth proposal marked (label: the colour
        word) and one random other proposal marked (label: ``negative_word``, default "none").
        Examples whose ground truth has no proposal at IoU > 0.5 are skipped, never relabelled.
        """
        if steps < 1:
            raise BadConfigError("few-shot steps must be >= 1")
        negative = negative_word or self.negative_word
        negative_id = self._word_id(negative)
        word, rgb, word_id = self.colors[0]
        usable = []
        for example in examples:
            positive = example.positive_index()
            if positive is None or len(example.proposals) < 2:
                continue
            usable.append((example, positive))
        if not usable:
            raise BadInputError("few-shot: no example has a proposal at IoU > 0.5 with its ground truth and a negative")
        tuned = copy.deepcopy(self.backbone)
        tuned.train()
        optimizer = torch.optim.AdamW(tuned.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
        schedule = warmup_linear_schedule(optimizer, steps)
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        pictures = [as_rgb_image(e.image) for e, _ in usable]
        boxes = [check_boxes(e.proposals, p.shape[0], p.shape[1]) for (e, _), p in zip(usable, pictures, strict=True)]
        for _ in range(steps):
            copies, box_list, prompts, labels = [], [], [], []
            for (example, positive), picture, box in zip(usable, pictures, boxes, strict=True):
                negative_index = int(rng.choice([i for i in range(len(box)) if i != positive]))
                for index, label in ((positive, word_id), (negative_index, negative_id)):
                    region_masks = None if example.masks is None else np.asarray(example.masks)[index : index + 1]
                    copies.append(mark(picture, box[index : index + 1], rgb, self.alpha, masks=region_masks))
                    box_list.append(box)
                    prompts.append(self._prompt(example.query, example.tags, {index: word}))
                    labels.append(label)
            loss = self._mlm_loss(tuned, copies, box_list, prompts, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        tuned.eval()
        fitted = copy.copy(self)
        fitted.backbone = tuned
        fitted.negative_word = negative
        fitted.negative_id = negative_id
        fitted.score_kind = "none_normalized"  # log P(colour) - log P(none), the spec's few-shot score
        fitted.mode = "single"
        return fitted

    def _mlm_loss(self, model, copies, box_list, prompts, labels) -> torch.Tensor:
        total = torch.zeros(())
        for group in _group_by_size(range(len(copies)), copies):
            batch = _as_batch([copies[i] for i in group], [box_list[i] for i in group], [prompts[i] for i in group],
                              self.tokenizer.pad_token_id, self.device)
            text_states, _ = model.encode(**batch)
            positions = torch.as_tensor([prompts[i].mask_index for i in group], device=text_states.device)
            at_mask = text_states[torch.arange(len(group), device=text_states.device), positions]
            logits = model.mlm_logits(at_mask)
            target = torch.as_tensor([labels[i] for i in group], device=logits.device)
            total = total + F.cross_entropy(logits, target, reduction="sum").cpu()
        return total / len(copies)

    def fit_few_shot(
        self, examples: Sequence[GroundingExample], k: int, seeds: Sequence[int] | int, **fit_options: Any
    ) -> list[FewShotRun]:
        """Fit once per seed on the K shots drawn by :func:`draw_shots` (the same draws as the baseline)."""
        return _few_shot_runs(self, examples, k, seeds, fit_options)


def _few_shot_runs(method: Any, examples: Sequence[GroundingExample], k: int, seeds: Sequence[int] | int, fit_options: dict) -> list[FewShotRun]:
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    runs = []
    for seed in seed_list:
        ids = draw_shots(len(examples), k, seed)
        shots = [examples[i] for i in ids]
        skipped = sum(e.positive_index() is None for e in shots)
        fitted = method.fit(shots, seed=seed, **fit_options)
        runs.append(FewShotRun(k, seed, [int(i) for i in ids], fitted, skipped))
    return runs
