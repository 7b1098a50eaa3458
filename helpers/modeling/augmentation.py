"""Augmentation layers, active only in training (identity at inference, so saved models need nothing extra).

- `augmentation()`: Keras' own layers (the first CPU recipe).
- `RandomAffineAugment`: flip, rotation, zoom and shift in one resampling, then contrast, brightness and gamma.
- `VarietyAugment`: RandomAffineAugment, then the variety real uploads bring: other sequences' grey-level curves,
  bias fields, blur, lower resolution, Rician noise and brain-only (skull-stripped) exports.
"""
from __future__ import annotations

import math

import keras
from keras import layers, ops

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


KNOTS = 8


def _hats(x, k: int):
    """Piecewise-linear basis on [0, 1]: weight of knot k at grey level x."""
    return ops.maximum(0.0, 1.0 - ops.abs(x * (KNOTS - 1) - k))


@keras.saving.register_keras_serializable(package="brain_mri")
class VarietyAugment(RandomAffineAugment):
    """RandomAffineAugment (flip, rotation, zoom, shift, contrast, brightness, gamma), then per image, each with
    probability `p`: a random grey-level curve (monotone, or with probability `p_nonmono` of those non-monotone
    with black kept black, as T1 -> T2/FLAIR changes which tissue is bright), a smooth multiplicative bias field,
    blur, a lower acquisition resolution, Rician noise, and a brain-only export (outside an eroded head mask set
    to black, as skull-stripped research data)."""

    def __init__(self, p: float = 0.35, p_nonmono: float = 0.4, bias: float = 0.35, noise: float = 0.05,
                 strip: float = 0.15, **kwargs):
        super().__init__(**kwargs)
        self.p, self.p_nonmono, self.bias, self.noise, self.strip = p, p_nonmono, bias, noise, strip

    def get_config(self) -> dict:
        return {**super().get_config(), "p": self.p, "p_nonmono": self.p_nonmono, "bias": self.bias,
                "noise": self.noise, "strip": self.strip}

    def _coin(self, n, p):
        return ops.cast(keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator) < p, "float32")

    def call(self, images, training=None):
        x = super().call(images, training=training)
        if not training:
            return x
        n = ops.shape(x)[0]
        h, w = x.shape[1], x.shape[2]
        u = lambda *s: keras.random.uniform(s, seed=self.seed_generator)  # noqa: E731

        # grey-level curve: knots at 0, 1/7, ..., 1; knot 0 stays 0 (background stays black)
        inc = u(n, KNOTS - 1) + 0.05
        mono = ops.cumsum(inc, axis=1) / ops.sum(inc, axis=1, keepdims=True)
        free = u(n, KNOTS - 1) * 0.9 + 0.1
        nonmono = self._coin(n, self.p_nonmono)[:, :, 0, 0]
        knots = ops.concatenate([ops.zeros((n, 1)), nonmono * free + (1 - nonmono) * mono], axis=1)
        curved = 0.0
        for k in range(KNOTS):
            curved = curved + knots[:, k][:, None, None, None] * _hats(x, k)
        x = x + self._coin(n, self.p) * (curved - x)

        # smooth bias field: a 4x4 random grid, bilinear-upsampled, multiplicative
        field = ops.image.resize(u(n, 4, 4, 1) * 2 - 1, (h, w), interpolation="bilinear")
        amp = u(n, 1, 1, 1) * self.bias
        x = x * (1 + self._coin(n, self.p) * (ops.exp(amp * field) - 1))

        # blur: blend with a 5x5 binomial blur
        k1 = ops.convert_to_tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
        kern = ops.reshape(k1[:, None] * k1[None, :], (5, 5, 1, 1))
        blurred = ops.conv(x, kern, padding="same")
        x = x + self._coin(n, self.p) * u(n, 1, 1, 1) * (blurred - x)

        # lower resolution: down to a third or half, back up
        for f in (2, 3):
            low = ops.image.resize(ops.image.resize(x, (h // f, w // f), interpolation="area"), (h, w),
                                   interpolation="bilinear")
            x = x + self._coin(n, self.p / 2) * (low - x)

        # Rician noise (magnitude of a complex signal with Gaussian noise on both parts)
        s = self._coin(n, self.p) * u(n, 1, 1, 1) * self.noise
        n1 = keras.random.normal(ops.shape(x), seed=self.seed_generator)
        n2 = keras.random.normal(ops.shape(x), seed=self.seed_generator)
        x = ops.sqrt(ops.square(x + s * n1) + ops.square(s * n2))

        # brain-only export: erode the head mask by 5-11 px and black out the rest
        head = ops.cast(ops.image.resize(x, (h // 4, w // 4), interpolation="area") > 0.12, "float32")
        eroded = -ops.max_pool(-head, 3, strides=1, padding="same")
        eroded = -ops.max_pool(-eroded, 3, strides=1, padding="same")
        mask = ops.image.resize(eroded, (h, w), interpolation="bilinear")
        strip = self._coin(n, self.strip)
        x = x * (1 - strip + strip * mask)
        return ops.clip(x, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="brain_mri")
class MixStyle(layers.Layer):
    """Feature-style mixing (Zhou et al., ICLR 2021), active only in training: with probability `p` per batch, each
    slice's per-channel feature mean and standard deviation are replaced by a Beta(alpha, alpha) blend of its own and
    another slice's of the batch (statistics not back-propagated). A collection's look (grey levels, contrast, noise)
    then travels with another slice's anatomy, so the look predicts the label less (batch 21). Identity at inference."""

    def __init__(self, p: float = 0.5, alpha: float = 0.1, eps: float = 1e-6, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.p, self.alpha, self.eps, self.seed = p, alpha, eps, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def get_config(self) -> dict:
        return {**super().get_config(), "p": self.p, "alpha": self.alpha, "eps": self.eps, "seed": self.seed}

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, x, training=None):
        if not training or self.p <= 0:
            return x
        n = ops.shape(x)[0]
        mu = ops.stop_gradient(ops.mean(x, axis=(1, 2), keepdims=True))
        sig = ops.stop_gradient(ops.sqrt(ops.var(x, axis=(1, 2), keepdims=True) + self.eps))
        lam = keras.random.beta((n, 1, 1, 1), self.alpha, self.alpha, seed=self.seed_generator)
        perm = keras.random.shuffle(ops.arange(n), seed=self.seed_generator)
        mu_mix = lam * mu + (1 - lam) * ops.take(mu, perm, axis=0)
        sig_mix = lam * sig + (1 - lam) * ops.take(sig, perm, axis=0)
        mixed = (x - mu) / sig * sig_mix + mu_mix
        return ops.where(keras.random.uniform((), seed=self.seed_generator) < self.p, mixed, x)


def random_intensity_net(x, inside, p: float, n_layers: int = 4, hidden: int = 2):
    """GIN, a global intensity non-linear augmentation (Ouyang et al., IEEE TMI 2022), in TensorFlow for a tf.data
    batch: each picked slice (probability `p`) goes through its own shallow random network (n_layers convolutions,
    each 1x1 or 3x3 at random, weights and shifts N(0, 1), leaky ReLU between), is given the slice's own mean and
    spread inside the head (`inside`, boolean; clipped to 0..255), black outside, and is blended with the slice by a
    uniform weight. It changes which tissue is bright and how texture looks, as another sequence does, while the
    anatomy stays (batch 44).
    x: float (N, H, W) in 0..255."""
    import tensorflow as tf

    n, h, w = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
    z = tf.transpose(x / 255.0, [1, 2, 0])[None]  # (1, H, W, N): one depthwise channel per slice
    centre = tf.pad(tf.ones((1, 1, 1, 1)), [[1, 1], [1, 1], [0, 0], [0, 0]])
    c_in = 1
    for layer in range(n_layers):
        c_out = 1 if layer == n_layers - 1 else hidden
        kern = tf.random.normal((3, 3, n * c_in, c_out))
        one = tf.repeat(tf.cast(tf.random.uniform((n, 1)) < 0.5, tf.float32), c_in, axis=0)  # 1x1 for these slices
        kern = kern * (one[None, None] * centre + (1 - one[None, None]))
        y = tf.nn.depthwise_conv2d(z, kern, strides=[1, 1, 1, 1], padding="SAME")  # channel (slice, c_in, c_out)
        y = tf.reduce_sum(tf.reshape(y, (1, h, w, n, c_in, c_out)), axis=4) + tf.random.normal((n, c_out))
        if layer < n_layers - 1:
            y = tf.nn.leaky_relu(y, 0.2)
        z, c_in = tf.reshape(y, (1, h, w, n * c_out)), c_out
    g = tf.transpose(z[0], [2, 0, 1])  # (N, H, W)
    # the slice's own mean and spread inside the head, so only which tissue is bright changes, not the exposure
    m = tf.cast(inside, tf.float32)
    k = tf.maximum(tf.reduce_sum(m, axis=[1, 2], keepdims=True), 1.0)
    mean = lambda a: tf.reduce_sum(a * m, axis=[1, 2], keepdims=True) / k  # noqa: E731
    gm, xm = mean(g), mean(x)
    gs, xs = tf.sqrt(mean(tf.square(g - gm)) + 1e-6), tf.sqrt(mean(tf.square(x - xm)) + 1e-6)
    g = tf.where(inside, tf.clip_by_value(xm + xs * (g - gm) / gs, 0.0, 255.0), 0.0)
    alpha = tf.random.uniform((n, 1, 1))
    pick = tf.random.uniform((n, 1, 1)) < p
    return tf.where(pick, alpha * g + (1 - alpha) * x, x)


MIXUP_ALPHA = 0.4  # batch 48 (experiments/batch48_mixup/PLAN.md): u ~ Beta(0.4, 0.4), lam = max(u, 1 - u)


def mixup(x, masks, w, p: float, alpha: float = MIXUP_ALPHA):
    """Batch 48: each slice of a batch blended, with probability p, with another slice of the same (shuffled) batch,
    x = lam * x + (1 - lam) * x'; returns (x, [masks, masks', lam], w blended). lam = max(u, 1 - u), u ~ Beta(alpha,
    alpha), so the slice keeps the larger share; lam = 1 where no blend is drawn (the loss is then the plain one)."""
    import tensorflow as tf

    n = tf.shape(x)[0]
    g1, g2 = tf.random.gamma([n], alpha), tf.random.gamma([n], alpha)
    u = g1 / tf.maximum(g1 + g2, 1e-12)
    lam = tf.where(tf.random.uniform([n]) < p, tf.maximum(u, 1 - u), tf.ones([n]))
    perm = tf.random.shuffle(tf.range(n))
    lx = lam[:, None, None]  # x is a batch of slices (N, S, S): the channel is added after the blend
    x = lx * x + (1 - lx) * tf.gather(x, perm)
    w = lam * w + (1 - lam) * tf.gather(w, perm)
    return x, tf.concat([masks, tf.gather(masks, perm), lam[:, None]], axis=1), w
