"""Keras 3 Functional models. Every model takes raw 0..255 grayscale pixels (S, S, 1), rescales inside, returns
logits (layer "logits"), and names its last convolution "last_conv" so Grad-CAM can find it.

Augmentation lives inside the model (Keras preprocessing layers, or one fused RandomAffineAugment layer): it is
active only in training, so the saved model needs no separate preprocessing at inference.
"""
from __future__ import annotations

import math

import keras
from keras import layers

from .. import config

ARCHS = ("resnet_small", "capstone_cnn", "tiny")


def augmentation(strength: float = 1.0, name: str = "augment") -> keras.Sequential:
    """Flips, small rotations, shifts, zoom, contrast and brightness: what varies between scanners and slices.

    Keras' own layers, one resampling per geometric step. The shipped CPU recipe was trained with these; new recipes
    use `RandomAffineAugment` (the same ranges, one resampling), which also runs fast on a GPU."""
    s = strength
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal"),
            layers.RandomRotation(0.04 * s, fill_mode="constant"),
            layers.RandomTranslation(0.06 * s, 0.06 * s, fill_mode="constant"),
            layers.RandomZoom((-0.12 * s, 0.12 * s), fill_mode="constant"),
            layers.RandomContrast(0.25 * s),
            layers.RandomBrightness(0.12 * s, value_range=(0.0, 1.0)),
        ],
        name=name,
    )


def _affine_gather(x, coeffs):
    """Bilinear resampling of NHWC images at source = A @ (x, y, 1), zeros outside, by four gathers in keras.ops.
    Matches keras.ops.image.affine_transform(..., "bilinear", "constant") on TensorFlow (tested); used on JAX and
    PyTorch, where that op runs through map_coordinates and was measured ~100x slower than the training step."""
    from keras import ops

    a0, a1, a2, b0, b1, b2 = coeffs  # each (N, 1)
    n, h, w, c = ops.shape(x)[0], x.shape[1], x.shape[2], x.shape[3]
    yy, xx = ops.meshgrid(ops.arange(h, dtype="float32"), ops.arange(w, dtype="float32"), indexing="ij")
    xx, yy = ops.reshape(xx, (1, -1)), ops.reshape(yy, (1, -1))
    sx, sy = a0 * xx + a1 * yy + a2, b0 * xx + b1 * yy + b2
    x0, y0 = ops.floor(sx), ops.floor(sy)
    fx, fy = sx - x0, sy - y0
    flat = ops.reshape(x, (n, h * w, c))
    out = 0.0
    for ox, oy, wt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + ox, y0 + oy
        inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
        idx = ops.cast(ops.clip(yi, 0, h - 1) * w + ops.clip(xi, 0, w - 1), "int32")
        vals = ops.take_along_axis(flat, ops.repeat(idx[..., None], c, axis=-1), axis=1)
        out = out + vals * ops.where(inside, wt, 0.0)[..., None]
    return ops.reshape(out, (n, h, w, c))


@keras.saving.register_keras_serializable(package="brain_mri")
class RandomAffineAugment(layers.Layer):
    """Random horizontal flip, rotation, zoom and shift composed into ONE affine map and resampled once (bilinear,
    zeros outside), then random contrast and brightness, then (gamma > 0) a random gamma x -> x**g with
    log g ~ U(-gamma, gamma); images in 0..1 (the layer sits after the model's 1/255 rescale), active only in training.

    Why not Keras' layers: under JAX each of RandomRotation/Translation/Zoom resamples through `map_coordinates`,
    which measured 827 ms per training step on an H200 against 6.9 ms without them (bench/gpu_probe.txt). Here the
    one resampling is TensorFlow's fused kernel on TensorFlow and four gathers in `keras.ops` elsewhere (the two agree,
    tested), and one interpolation instead of three also blurs less. Ranges match `augmentation()`: rotation is a fraction of a full
    turn, translation a fraction of the side, zoom a relative scale change.

    Why gamma: grey-level histograms alone (the acquisition sequence, not the anatomy) predict the class well above
    chance on this dataset. A random monotone remap changes an image's histogram but keeps its anatomy and the order
    of its grey levels, so the histogram becomes a less reliable cue. 0 (the default) draws nothing: layers saved
    before it existed, and their seeded outputs, are unchanged."""

    def __init__(self, rotation: float = 0.04, translation: float = 0.06, zoom: float = 0.12, flip: bool = True,
                 contrast: float = 0.25, brightness: float = 0.12, seed: int | None = None, gamma: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.rotation, self.translation, self.zoom, self.flip = rotation, translation, zoom, flip
        self.contrast, self.brightness, self.seed, self.gamma = contrast, brightness, seed, gamma
        self.seed_generator = keras.random.SeedGenerator(seed)

    def get_config(self) -> dict:
        return {**super().get_config(), "rotation": self.rotation, "translation": self.translation, "zoom": self.zoom,
                "flip": self.flip, "contrast": self.contrast, "brightness": self.brightness, "seed": self.seed,
                "gamma": self.gamma}

    def compute_output_shape(self, input_shape):
        return input_shape

    def _uniform(self, n, bound: float):
        return keras.random.uniform((n,), -bound, bound, seed=self.seed_generator)

    def call(self, images, training=None):
        if not training:
            return images
        from keras import ops

        x = ops.cast(images, "float32")
        n = ops.shape(x)[0]
        h, w, c = x.shape[1], x.shape[2], x.shape[3]
        # Inverse map, output pixel -> source pixel, about the image centre: un-shift, un-zoom, un-rotate, un-flip.
        theta = self._uniform(n, self.rotation * 2 * math.pi)[:, None]
        scale = (1.0 + self._uniform(n, self.zoom))[:, None]
        tx = self._uniform(n, self.translation * w)[:, None]
        ty = self._uniform(n, self.translation * h)[:, None]
        sign = ops.ones_like(tx)
        if self.flip:
            sign = ops.where(keras.random.uniform((n, 1), seed=self.seed_generator) < 0.5, -1.0, 1.0)
        cx, cy = (w - 1) / 2, (h - 1) / 2
        cos, sin = ops.cos(theta), ops.sin(theta)
        # source = A @ (x, y, 1) in pixel coordinates (the 8-parameter form of keras.ops.image.affine_transform)
        a0, a1, b0, b1 = sign * cos / scale, sign * sin / scale, -sin / scale, cos / scale
        a2 = cx - a0 * (cx + tx) - a1 * (cy + ty)
        b2 = cy - b0 * (cx + tx) - b1 * (cy + ty)
        if keras.backend.backend() == "tensorflow":  # TF's fused resampling kernel: fastest on the CPU
            zero = ops.zeros_like(a0)
            transform = ops.concatenate([a0, a1, a2, b0, b1, b2, zero, zero], axis=1)
            x = ops.image.affine_transform(x, transform, interpolation="bilinear", fill_mode="constant")
        else:
            x = _affine_gather(x, (a0, a1, a2, b0, b1, b2))
        if self.contrast:  # blend towards each image's mean, as keras.layers.RandomContrast
            factor = (1.0 + self._uniform(n, self.contrast))[:, None, None, None]
            mean = ops.mean(x, axis=(1, 2), keepdims=True)
            x = (x - mean) * factor + mean
        if self.brightness:
            x = x + self._uniform(n, self.brightness)[:, None, None, None]
        x = ops.clip(x, 0.0, 1.0)
        if self.gamma:  # drawn last, so the geometry and contrast drawn before it match a gamma-0 layer's
            g = ops.exp(self._uniform(n, self.gamma))[:, None, None, None]
            x = ops.power(x, g)  # monotone on [0, 1] and keeps 0 and 1: no clip needed after it
        return x


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
                 stem_pool: bool = True, augment_layer: str = "keras", gamma: float = 0.0) -> keras.Model:
    """A small residual CNN sized for a 2-core CPU: a strided stem halves the image at once, four stages double the
    width while halving the resolution, global average pooling keeps the head tiny (~0.4M parameters at width 16).

    `gamma` > 0 adds RandomAffineAugment's random intensity remap (not scaled by `augment`; "affine" layer only)."""
    check_options("resnet_small", augment=augment, augment_layer=augment_layer, gamma=gamma)
    inp, x = _inputs(img_size)
    if augment:  # "keras" (the shipped CPU recipe's layers) or "affine" (one resampling; fast under JAX too)
        if augment_layer == "affine":
            x = RandomAffineAugment(0.04 * augment, 0.06 * augment, 0.12 * augment, contrast=0.25 * augment,
                                    brightness=0.12 * augment, gamma=gamma, name="augment")(x)
        elif augment_layer == "keras":
            x = augmentation(augment)(x)
        else:
            raise ValueError(f"unknown augment_layer {augment_layer!r}; known: keras, affine")
    x = _conv_bn(x, width, stride=2)
    if stem_pool:  # stride 4 before the first stage: the 2-core CPU budget goes to depth, not to full-res maps
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for stage, n in enumerate(blocks):
        filters = width * 2**stage
        for i in range(n):
            x = _res_block(x, filters, stride=2 if (stage > 0 and i == 0) else 1)
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
    if opts.get("gamma") and not (opts.get("augment") and opts.get("augment_layer") == "affine"):
        raise ValueError(f"gamma (random intensity remap) needs augment_layer='affine' and augment > 0; got "
                         f"augment_layer={opts.get('augment_layer')!r}, augment={opts.get('augment')} "
                         "(e.g. --config models/brain_tumor_cnn/record.json --gamma 0.4)")


def build_model(arch: str, img_size: int = config.IMG_SIZE, n_classes: int = len(config.CLASSES), **kw) -> keras.Model:
    """Build one of ARCHS by name; extra keyword arguments go to the builder (e.g. width, augment)."""
    check_options(arch, **kw)
    return _builders()[arch](img_size=img_size, n_classes=n_classes, **kw)
