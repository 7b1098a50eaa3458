"""Keras 3 Functional models. Every model takes raw 0..255 grayscale pixels (S, S, 1), rescales inside, returns
logits (layer "logits"), and names its last convolution "last_conv" so Grad-CAM can find it.

Augmentation lives inside the model (Keras preprocessing layers, or one fused RandomAffineAugment layer): it is
active only in training, so the saved model needs no separate preprocessing at inference.
"""
from __future__ import annotations

import keras
from keras import layers

from .. import config
from .augmentation import MixStyle, RandomAffineAugment, VarietyAugment, augmentation

ARCHS = ("resnet_small", "capstone_cnn", "tiny")


@keras.saving.register_keras_serializable(package="brain_mri")
class MirrorDifference(layers.Layer):
    """Adds a second channel: |slice - its left-right mirror image|.

    A healthy brain is roughly symmetric about its midline and most tumours are not. This is a cue that no
    collection's grey levels, framing or scanner carry. `data.prepare` centres the head, so the mirror axis is close
    to the midline. The layer sits before the augmentation, so a rotated or shifted training view moves the image
    and its asymmetry map together. The absolute value keeps the channel in 0..1, which the augmentation's clip and
    zero fill assume (a rotated corner reads "symmetric"); the first channel says which side is brighter."""

    def __init__(self, keep_image: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.keep_image = keep_image  # False: the asymmetry map alone (batch 8), without the slice's own grey levels

    def get_config(self) -> dict:
        return {**super().get_config(), "keep_image": self.keep_image}

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + ((2 if self.keep_image else 1) * input_shape[-1],)

    def call(self, x):
        from keras import ops

        diff = ops.abs(x - ops.flip(x, axis=2))
        return ops.concatenate([x, diff], axis=-1) if self.keep_image else diff


@keras.saving.register_keras_serializable(package="brain_mri")
class Mirror(layers.Layer):
    """The left-right mirror image (or mirrored feature maps). An ensemble member that reads the mirrored slice maps
    its features back through a second Mirror, so pooling is unchanged and Grad-CAM stays in image coordinates
    (`ensemble.merge(..., mirrored=...)`, batch 21's flip test-time augmentation as one model)."""

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, x):
        from keras import ops

        return ops.flip(x, axis=2)


def _inputs(img_size: int) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    inp = keras.Input((img_size, img_size, 1), name="image")
    return inp, layers.Rescaling(1.0 / 255.0, name="rescale")(inp)


def _conv_bn(x, filters: int, stride: int = 1, kernel: int = 3, act: bool = True, name: str | None = None):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x) if act else x


def _res_block(x, filters: int, stride: int):
    shortcut = x
    y = _conv_bn(x, filters, stride)
    y = _conv_bn(y, filters, act=False)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = _conv_bn(shortcut, filters, stride, kernel=1, act=False)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def resnet_small(img_size: int = config.IMG_SIZE, n_classes: int = len(config.CLASSES), width: int = 16,
                 blocks: tuple[int, ...] = (1, 2, 2, 2), dropout: float = 0.2, augment: float = 1.0,
                 stem_pool: bool = True, augment_layer: str = "keras", gamma: float = 0.0,
                 mirror: bool | str = False, mixstyle: float = 0.0) -> keras.Model:
    """A small residual CNN sized for a 2-core CPU: a strided stem halves the image at once, four stages double the
    width while halving the resolution, global average pooling keeps the head tiny (~0.4M parameters at width 16).

    `gamma` > 0 adds RandomAffineAugment's random intensity remap (not scaled by `augment`; "affine" layer only).
    `mirror` True adds the asymmetry channel (MirrorDifference) before the augmentation; "only" feeds the asymmetry
    map alone. `mixstyle` > 0 mixes feature styles after the first two stages with that probability per batch
    (training only; batch 21)."""
    check_options("resnet_small", augment=augment, augment_layer=augment_layer, gamma=gamma)
    inp, x = _inputs(img_size)
    if mirror:
        if mirror not in (True, "only"):
            raise ValueError(f"mirror must be False, True or 'only', not {mirror!r}")
        x = MirrorDifference(keep_image=mirror is True, name="mirror")(x)
    if augment:  # "keras" (the shipped CPU recipe's layers) or "affine" (one resampling; fast under JAX too)
        if augment_layer == "affine":
            x = RandomAffineAugment(0.04 * augment, 0.06 * augment, 0.12 * augment, contrast=0.25 * augment,
                                    brightness=0.12 * augment, gamma=gamma, name="augment")(x)
        elif augment_layer == "variety":  # the cross-collection recipes' layer: affine + sequence/scanner variety
            x = VarietyAugment(rotation=0.04 * augment, translation=0.06 * augment, zoom=0.12 * augment,
                               contrast=0.25 * augment, brightness=0.12 * augment, gamma=gamma, name="augment")(x)
        elif augment_layer == "keras":
            x = augmentation(augment)(x)
        else:
            raise ValueError(f"unknown augment_layer {augment_layer!r}; known: keras, affine, variety")
    x = _conv_bn(x, width, stride=2)
    if stem_pool:  # stride 4 before the first stage: the 2-core CPU budget goes to depth, not to full-res maps
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for stage, n in enumerate(blocks):
        filters = width * 2**stage
        for i in range(n):
            x = _res_block(x, filters, stride=2 if (stage > 0 and i == 0) else 1)
        if mixstyle and stage < 2:
            x = MixStyle(mixstyle, name=f"mixstyle{stage + 1}")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name="last_conv")(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    out = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(inp, out, name="resnet_small")


def capstone_cnn(img_size: int = config.IMG_SIZE, n_classes: int = len(config.CLASSES)) -> keras.Model:
    """The original capstone's network as it described it: three 3x3 convolutions (32/64/128) each followed by
    max-pooling, a dense layer of 128, no augmentation. It used 256x256 input: `capstone_cnn` is trained at our 128 px
    (equal input), `capstone_cnn_256` at 256 px (`brain-mri train --arch capstone_cnn --img-size 256`)."""
    inp, x = _inputs(img_size)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(128, 3, activation="relu", name="last_conv")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    out = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(inp, out, name="capstone_cnn")


def tiny(img_size: int = 64, n_classes: int = len(config.CLASSES)) -> keras.Model:
    """A few-thousand-parameter CNN for tests and smoke runs (trains in seconds on phantoms)."""
    inp, x = _inputs(img_size)
    x = _conv_bn(x, 8, stride=2)
    x = _conv_bn(x, 16, stride=2)
    x = layers.Conv2D(16, 3, padding="same", name="last_conv")(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(inp, out, name="tiny")


def _builders() -> dict:
    return {"resnet_small": resnet_small, "capstone_cnn": capstone_cnn, "tiny": tiny}


def check_options(arch: str, **kw) -> None:
    """Raise a one-line ValueError for an unknown architecture, an option it does not take, or a combination it
    refuses, without building anything: `brain-mri train` calls it before minutes of data loading."""
    import inspect

    builders = _builders()
    if arch not in builders:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")
    params = inspect.signature(builders[arch]).parameters
    # a clear error (not a TypeError deep in a training run) for e.g. `--gamma` with an arch that has no such option
    unknown = sorted(set(kw) - set(params))
    if unknown:
        raise ValueError(f"architecture {arch!r} takes no option {', '.join(unknown)}")
    opts = {k: v.default for k, v in params.items()} | kw
    if opts.get("gamma") and not (opts.get("augment") and opts.get("augment_layer") in ("affine", "variety")):
        raise ValueError(f"gamma (random intensity remap) needs augment_layer='affine' and augment > 0; got "
                         f"augment_layer={opts.get('augment_layer')!r}, augment={opts.get('augment')} "
                         "(e.g. --config models/brain_tumor_cnn/record.json --gamma 0.4)")


def build_model(arch: str, img_size: int = config.IMG_SIZE, n_classes: int = len(config.CLASSES), **kw) -> keras.Model:
    """Build one of ARCHS by name; extra keyword arguments go to the builder (e.g. width, augment)."""
    check_options(arch, **kw)
    return _builders()[arch](img_size=img_size, n_classes=n_classes, **kw)
