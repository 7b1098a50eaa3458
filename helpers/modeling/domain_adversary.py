"""Batch 49 (experiments/batch49_domain_adversary/PLAN.md): a class-conditional domain adversary for training only.

The shortcut here is a look that only one label carries (figshare's contrast T1 in every plane: all tumours;
healthy-extra's T2/FLAIR and DWI: all healthy). A small head reads the pooled features through a gradient reversal
layer (Ganin et al., JMLR 2016) and tries to tell the slice's source apart *among slices of the same label*
(conditional invariance, Li et al., ECCV 2018): the network is pushed to features that say nothing about where a
tumour slice, or a healthy one, came from, while the tumour/healthy difference stays free to learn. The head is
dropped after training: the saved model is the plain classifier.
"""
from __future__ import annotations

import math

import keras
import numpy as np
import pandas as pd
from keras import layers, ops

from .. import config
from ..data.union_split import FOLDS

DOMAINS = FOLDS  # a union row's `source`: where the picture was first published
HIDDEN = 128


@keras.saving.register_keras_serializable(package="brain_mri")
class GradientReversal(layers.Layer):
    """Identity forward; the gradient times -strength backward. `strength` is a non-trainable weight that a
    callback moves along Ganin's schedule, so one compiled graph serves the whole run."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.strength = self.add_weight(shape=(), initializer="zeros", trainable=False, name="strength")

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, x):
        s = ops.cast(self.strength, x.dtype)
        return ops.stop_gradient(x * (1 + s)) - x * s


def strength_at(progress: float, top: float) -> float:
    """Ganin's schedule: 0 at the start, rising to `top` (2 / (1 + exp(-10 p)) - 1), so the adversary only pushes
    once the classifier has features worth pushing."""
    return float(top * (2 / (1 + math.exp(-10 * progress)) - 1))


class Schedule(keras.callbacks.Callback):
    def __init__(self, layer: GradientReversal, top: float, epochs: int):
        super().__init__()
        self.layer, self.top, self.epochs = layer, top, max(int(epochs), 1)

    def on_epoch_begin(self, epoch, logs=None):
        self.layer.strength.assign(strength_at(epoch / self.epochs, self.top))


def targets(frame: pd.DataFrame) -> np.ndarray:
    """int32 per row: label block (0 healthy, 1 tumour) times len(DOMAINS) plus the index of the row's source.
    A source outside DOMAINS is a ValueError naming it."""
    unknown = sorted(set(frame["source"].astype(str)) - set(DOMAINS))
    if unknown:
        raise ValueError(f"unknown source {unknown[0]!r} for the domain adversary; known: {', '.join(DOMAINS)}")
    tum = (frame["label"] != config.NO_TUMOUR).to_numpy().astype(np.int32)
    return (tum * len(DOMAINS) + frame["source"].astype(str).map(DOMAINS.index).to_numpy()).astype(np.int32)


def conditional_loss(n_domains: int = len(DOMAINS)):
    """Keras loss (y_true = `targets`, y_pred = 2 * n_domains logits): cross-entropy over the sources of the row's
    own label block only, so the head learns P(source | features, label)."""

    def loss(y_true, logits):
        t = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        block = ops.arange(2 * n_domains) // n_domains
        inside = ops.equal(block[None, :], (t // n_domains)[:, None])
        picked = ops.take_along_axis(logits, t[:, None], axis=1)[:, 0]
        return ops.logsumexp(ops.where(inside, logits, -1e9), axis=-1) - picked

    loss.__name__ = "domain_loss"
    return loss


def attach(model: keras.Model, top: float, epochs: int) -> tuple[keras.Model, list]:
    """(training model with outputs [logits, domain logits], [its strength schedule]). The classifier's weights are
    shared, so training the wrapper trains `model`, which is what gets saved."""
    pool = next(layer for layer in model.layers if type(layer).__name__ == "GlobalAveragePooling2D")
    grl = GradientReversal(name="grad_reverse")
    h = layers.Dense(HIDDEN, activation="relu", name="domain_hidden")(grl(pool.output))
    out = layers.Dense(2 * len(DOMAINS), name="domain")(h)
    net = keras.Model(model.inputs, [model.outputs[0], out], name="with_domain_adversary")
    return net, [Schedule(grl, top, epochs)]


def chance_loss(frame: pd.DataFrame) -> float:
    """The conditional loss of a head that knows nothing but each label's source shares: the mean over the two
    label blocks (equal total weight in training, `partial_labels.balance_weights`) of the entropy of the sources
    inside the block. A training loss at this level means the features no longer tell the sources apart."""
    tum = (frame["label"] != config.NO_TUMOUR).to_numpy()
    ent = []
    for t in (True, False):
        share = frame.loc[tum == t, "source"].value_counts(normalize=True).to_numpy(float)
        if len(share):
            ent.append(float(-(share * np.log(share)).sum()))
    return float(np.mean(ent)) if ent else float("nan")
