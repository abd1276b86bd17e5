"""FTrojan (Wang et al., ECCV 2022): an invisible backdoor written into mid/high DCT coefficients of the
chroma channels, with poisoning, baseline attacks and an attacks x defences harness."""

from tenfold.ftrojan.baselines import BadNetsTrigger, BlendedTrigger, SIGTrigger
from tenfold.ftrojan.dct import block_dct, block_idct, dct_matrix, rgb_to_ycrcb, ycrcb_to_rgb
from tenfold.ftrojan.poison import PoisonedSet, poison_clean_label, poison_count, poison_dirty_label
from tenfold.ftrojan.trigger import DEFAULT_POSITIONS, FrequencyTrigger, analytic_psnr

__all__ = [
    "DEFAULT_POSITIONS",
    "BadNetsTrigger",
    "BlendedTrigger",
    "FrequencyTrigger",
    "PoisonedSet",
    "SIGTrigger",
    "analytic_psnr",
    "block_dct",
    "block_idct",
    "dct_matrix",
    "poison_clean_label",
    "poison_count",
    "poison_dirty_label",
    "rgb_to_ycrcb",
    "ycrcb_to_rgb",
]
