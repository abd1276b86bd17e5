"""The training loss (spec 1.4): 15·L1(warp(I, F), T) + 15·L1(f, f_gt) + 2·L_orth, flows in normalised units."""

from __future__ import annotations

import torch

from tenfold.bodyreshape.warp import warp_tensor

IMAGE_WEIGHT, FLOW_WEIGHT, ORTH_WEIGHT = 15.0, 15.0, 2.0


def orthogonal_loss(flow: torch.Tensor, paf: torch.Tensor, *, threshold: float = 0.5,
                    floor: float = 0.01) -> torch.Tensor:
    """Mean |cos∠(F, P)| where it is >= threshold (flow within 60° of the limb axis), else 0.

    flow, paf: (B, 2, H, W), flow in normalised units. Body reshaping moves contours across limbs,
    not along them; where the PAF is zero (background) nothing is penalised. ``floor`` is added to
    |F| (deviation from the official 1e-6-style guard): the cosine's gradient grows like 1/|F|, which
    made training from the zero flow unstable, so flows far below ``floor`` are barely penalised.
    """
    dot = (flow * paf).sum(1)
    cosine = (dot / ((flow.norm(dim=1) + floor) * (paf.norm(dim=1) + 1e-6))).abs()
    return torch.where(cosine >= threshold, cosine, torch.zeros_like(cosine)).mean()


def reshape_loss(flow: torch.Tensor, image: torch.Tensor, target: torch.Tensor, flow_target: torch.Tensor,
                 paf: torch.Tensor, *, coef: float = 0.2, orth_weight: float = ORTH_WEIGHT) -> torch.Tensor:
    """flow, flow_target: normalised (B, 2, S, S); image, target: (B, 3, S, S) in [0, 1]; paf (B, 2, S, S)."""
    pixels = flow * coef * image.shape[-1]
    warped = warp_tensor(image, pixels)
    loss = IMAGE_WEIGHT * (warped - target).abs().mean() + FLOW_WEIGHT * (flow - flow_target).abs().mean()
    if orth_weight:
        loss = loss + orth_weight * orthogonal_loss(flow, paf)
    return loss
