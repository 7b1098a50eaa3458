"""What the model looks at: Grad-CAM against the Br35H tumour outlines.

The pointing game (Zhang et al., 2016): a hit when the heat map's peak falls inside the outline, dilated by a few
pixels of the model's input. Share of heat inside: the heat inside the (undilated) outline over the total.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

DILATE_PX = 3  # at the 128-px model input: ~2% of the side, about the error of a hand-drawn outline


def pointing(heat: np.ndarray, mask: np.ndarray, dilate: int = DILATE_PX) -> tuple[bool, float]:
    """(hit, share): does the heat map's peak fall in the dilated mask; share of the heat inside the mask.
    An all-zero heat map is a miss with share 0 (the model found no evidence anywhere)."""
    heat = np.asarray(heat, np.float64)
    if heat.max() <= 0 or not mask.any():
        return False, 0.0
    grown = ndimage.binary_dilation(mask, iterations=dilate) if dilate else mask
    peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return bool(grown[peak]), float(heat[mask].sum() / heat.sum())


def score(model, X: np.ndarray, masks: np.ndarray, dilate: int = DILATE_PX, target: str = "default",
          grid: int | None | str = "default") -> dict:
    """Pointing game and heat share of a model's Grad-CAM over prepared images X (N, S, S) with their prepared
    outline masks (N, S, S). `target` "type": the most likely tumour type's logit; "p_tumour": the log-odds of
    P(tumour). "default" (target or grid): the model's own choice (explain.gradcam_choice: a predictor's record; a bare
    Keras model has none and gets the fallback). Per-image hits are returned for the report's CIs."""
    from .. import config
    from ..modeling import explain

    own_target, own_grid = explain.gradcam_choice(model)
    target = own_target if target == "default" else target
    grid = own_grid if grid == "default" else grid
    tumour_idx = [config.CLASSES.index(c) for c in config.TUMOUR_CLASSES]
    hits, shares = [], []
    for x, m in zip(X, masks):
        if target == "p_tumour":
            k = explain.TUMOUR
        else:
            _, logits = explain.gradcam_and_logits(model, x, None, grid)
            k = tumour_idx[int(np.argmax(np.asarray(logits)[tumour_idx]))]
        heat, _ = explain.gradcam_and_logits(model, x, k, grid)
        h, s = pointing(heat, m, dilate)
        hits.append(h)
        shares.append(s)
    return {"n": len(hits), "pointing_game": float(np.mean(hits)) if hits else None,
            "heat_inside": float(np.mean(shares)) if shares else None, "hits": [bool(h) for h in hits]}
