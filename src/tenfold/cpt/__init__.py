"""CPT: colourful prompt tuning for visual grounding (Yao et al., 2021), with a tiny offline VL backbone.

Mark each region proposal with a semi-transparent colour, ask a masked-language VL model
"{query} is in [MASK] color .", and pick the proposal whose colour word it prefers.
"""

from tenfold.cpt.backbone import MaskedVLBackbone
from tenfold.cpt.colors import ColorSearchResult, color_search, rgb_lattice
from tenfold.cpt.examples import GroundingExample, accuracy, draw_shots, random_accuracy
from tenfold.cpt.finetune import FineTuneGrounder, GroundingHead
from tenfold.cpt.grounder import RED, CPTGrounder, FewShotRun, GroundingScores
from tenfold.cpt.marking import box_iou, check_boxes, mark
from tenfold.cpt.model import TinyVL, TinyVLConfig, crop_regions
from tenfold.cpt.pretrain import (
    PretrainConfig,
    cache_dir,
    load_or_pretrain,
    load_weights,
    pretrain,
    save_weights,
)
from tenfold.cpt.prompt import DEFAULT_TEMPLATE, TEMPLATES, build_prompt
from tenfold.cpt.vocabulary import Vocabulary

__all__ = [
    "DEFAULT_TEMPLATE",
    "RED",
    "TEMPLATES",
    "CPTGrounder",
    "ColorSearchResult",
    "FewShotRun",
    "FineTuneGrounder",
    "GroundingExample",
    "GroundingHead",
    "GroundingScores",
    "MaskedVLBackbone",
    "PretrainConfig",
    "TinyVL",
    "TinyVLConfig",
    "Vocabulary",
    "accuracy",
    "box_iou",
    "build_prompt",
    "cache_dir",
    "check_boxes",
    "color_search",
    "crop_regions",
    "draw_shots",
    "load_or_pretrain",
    "load_weights",
    "mark",
    "pretrain",
    "random_accuracy",
    "rgb_lattice",
    "save_weights",
]
