"""helpers.modeling.explain: Grad-CAM shape/range/caching, the overlay, and localisation of phantom lesions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import config
from helpers.modeling import explain


@pytest.fixture(autouse=True)
def _session_cache(monkeypatch, session_cache):
    monkeypatch.setattr(config, "cache_dir", lambda: session_cache)

S = 64


def test_overlay_shapes_and_alpha(tiny_images):
    gray = tiny_images["glioma"]
    heat = np.zeros((16, 16), np.float32)
    heat[4:8, 4:8] = 1.0
    rgb = explain.overlay(gray, heat, alpha=0.5)
    assert rgb.shape == (*gray.shape, 3) and rgb.dtype == np.uint8
    # where the heat is zero the image shows through unchanged; where it is hot, colour is mixed in
    assert (rgb[0, 0] == gray[0, 0]).all()
    y, x = gray.shape[0] * 6 // 16, gray.shape[1] * 6 // 16
    assert np.ptp(rgb[y, x].astype(int)) > 0
    assert (explain.overlay(gray, heat, alpha=0.0) == np.repeat(gray[..., None], 3, -1)).all()


def test_gradcam_shape_range_and_cache(tiny_model_json, tiny_images):
    from helpers.modeling.predictor import load_model
    from helpers.data.prepare import prepare

    p = load_model(Path(tiny_model_json).with_suffix(".keras"))
    x = prepare(tiny_images["meningioma"], p.img_size)
    heat = explain.gradcam(p.model, x)
    assert heat.shape == (p.img_size, p.img_size) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() <= 1 and (heat.max() == 1 or heat.max() == 0)
    fn = explain._gradcam_fn(p.model, explain.resolve_grid(p))
    assert explain._gradcam_fn(p.model, explain.resolve_grid(p)) is fn  # traced once per model and grid
    h2, logits = explain.gradcam_and_logits(p.model, x, class_idx=2)
    np.testing.assert_allclose(logits, p.logits_arrays(x)[0], rtol=1e-4, atol=1e-5)
    assert np.allclose(explain.gradcam(p, x), heat)  # a Predictor works too
    with pytest.raises(ValueError):
        explain.gradcam(p.model, np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError):
        explain.gradcam(p.model, x, class_idx=7)


def _phantoms(n: int, first_seed: int):
    """Prepared phantoms (all four classes of each seed: the same head with different lesions) + lesion masks
    put through the same crop/pad/resize as the image."""
    from PIL import Image

    from helpers.data import prepare as preprocess
    from helpers.data import synthetic

    X, y, M = [], [], []
    for i in range(n):
        for k, c in enumerate(config.CLASSES):
            g, m = synthetic.make_phantom(c, first_seed + i, size=128)
            t, b, l, r = preprocess.head_bbox(g)
            mm = preprocess.pad_square(m[t:b, l:r].astype(np.uint8) * 255)
            X.append(preprocess.prepare(g, S))
            M.append(np.asarray(Image.fromarray(mm).resize((S, S), Image.Resampling.BILINEAR)) > 127)
            y.append(k)
    return np.stack(X), np.array(y), np.stack(M)


@pytest.fixture(scope="module")
def cam_model():
    """Our residual architecture, narrowed (width 8, two stages: an 8x8 Grad-CAM grid at 64 px), trained briefly
    on phantoms. Each seed gives the same head with four different lesions, so the lesion is the only evidence."""
    import keras

    from helpers.modeling.architectures import build_model

    Xtr, ytr, _ = _phantoms(30, 0)
    Xte, yte, Mte = _phantoms(10, 10_000)
    keras.utils.set_random_seed(0)
    model = build_model("resnet_small", S, width=8, blocks=(1, 1), augment=0)
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    xtr = Xtr[..., None].astype("float32")
    model.fit(xtr, ytr, batch_size=16, epochs=20, verbose=0)
    # 150 steps are too few for BatchNorm's moving averages (momentum 0.99) to settle: re-estimate them once on
    # the whole training set ("precise BN"), otherwise inference runs on stale statistics.
    bns = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in bns:
        layer.momentum = 0.0
    model(xtr, training=True)
    for layer in bns:
        layer.momentum = 0.99
    return model, Xte, yte, Mte


@pytest.mark.slow
def test_gradcam_localises_phantom_lesions(cam_model):
    """Honest criterion for a coarse (8x8) map: the heat's peak lands on the lesion (pointing game, with a
    tolerance of one grid cell) in at least half the images and at >= 3x the rate of a random peak on the head,
    and heat is denser on the lesion than over the head as a whole. (Most heat *mass* inside the lesion is not
    asked for: an 8x8 map cannot draw a 3-pixel pituitary lesion.)"""
    from scipy import ndimage

    model, X, y, M = cam_model
    pred = np.asarray(model.predict(X[..., None].astype("float32"), verbose=0)).argmax(1)
    assert (pred == y).mean() >= 0.8, "the phantom model did not learn: localisation cannot be judged"
    hits, chance, conc = [], [], []
    for x, yi, m, pi in zip(X, y, M, pred):
        if config.CLASSES[yi] == config.NO_TUMOUR or pi != yi:
            continue
        heat = explain.gradcam(model, x, int(yi))
        near = ndimage.binary_dilation(m, iterations=S // 8)  # one Grad-CAM cell of tolerance
        hits.append(bool(near[np.unravel_index(heat.argmax(), heat.shape)]))
        head = ndimage.binary_fill_holes(x > 20) | m
        chance.append((near & head).sum() / head.sum())  # a peak placed at random on the head
        conc.append(heat[ndimage.binary_dilation(m, iterations=2)].mean() / max(heat[head].mean(), 1e-9))
    assert len(hits) >= 15
    print(f"pointing game {np.mean(hits):.2f} on {len(hits)} lesions (chance {np.mean(chance):.2f}); "
          f"heat on lesion / heat over head: median {np.median(conc):.2f}")
    assert np.mean(hits) >= max(0.5, 3 * np.mean(chance))
    assert np.median(conc) >= 1.5


def test_gradcam_grid_and_tumour_target(tiny_model_json, tiny_images):
    """A finer grid takes the last layer at that size; TUMOUR weighs the maps by the gradient of the P(tumour)
    log-odds (checked against a hand-written GradientTape); an absent grid is a clear error."""
    import keras
    import tensorflow as tf

    from helpers.data.prepare import prepare
    from helpers.modeling.predictor import load_model

    p = load_model(Path(tiny_model_json).with_suffix(".keras"))
    x = prepare(tiny_images["glioma"], p.img_size)
    sizes = sorted({int(ly.output.shape[1]) for ly in p.model.layers if len(ly.output.shape) == 4})
    fine = sizes[-1] if sizes[-1] < p.img_size else sizes[-2]
    acts_t = explain.target_tensor(p.model, fine)
    assert acts_t.shape[1] == fine
    heat, _ = explain.gradcam_and_logits(p.model, x, explain.TUMOUR, grid=fine)
    sub = keras.Model(p.model.inputs, [acts_t, p.model.outputs[0]])
    xt = tf.convert_to_tensor(x[None, :, :, None].astype("float32"))
    with tf.GradientTape() as tape:
        acts, logits = sub(xt, training=False)
        tape.watch(acts)
        t = [config.CLASSES.index(c) for c in config.TUMOUR_CLASSES]
        odds = tf.reduce_logsumexp(tf.gather(logits[0], t)) - logits[0][config.CLASSES.index(config.NO_TUMOUR)]
    w = tf.reduce_mean(tape.gradient(odds, acts), axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(acts * w, axis=-1, keepdims=True))
    cam = tf.image.resize(cam, (p.img_size, p.img_size), method="bilinear")[0, :, :, 0].numpy()
    want = cam / cam.max() if cam.max() > 0 else cam
    np.testing.assert_allclose(heat, want, atol=1e-4)
    with pytest.raises(ValueError, match="5x5"):
        explain.gradcam(p.model, x, grid=5)


def test_mirror_difference_channel(tmp_path):
    """The asymmetry channel is |x - mirror(x)|: zero on a symmetric slice, and it survives a save and load."""
    import keras

    from helpers.modeling.architectures import MirrorDifference, build_model

    sym = np.zeros((1, 8, 8, 1), np.float32)
    sym[0, 2:6, 1:7] = 0.5
    out = np.asarray(MirrorDifference()(sym))
    assert out.shape == (1, 8, 8, 2) and np.allclose(out[..., 0], sym[..., 0]) and not out[..., 1].any()
    lop = sym.copy()
    lop[0, 3, 1] = 1.0
    d = np.asarray(MirrorDifference()(lop))[0, :, :, 1]
    assert d[3, 1] == pytest.approx(0.5) and d[3, 6] == pytest.approx(0.5) and d.sum() == pytest.approx(1.0)
    m = build_model("resnet_small", 32, width=4, blocks=(1, 1), augment=0, mirror=True)
    f = tmp_path / "m.keras"
    m.save(f)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 1)).astype("float32")
    m2 = keras.saving.load_model(f, safe_mode=True, compile=False)
    np.testing.assert_allclose(m2.predict(x, verbose=0), m.predict(x, verbose=0), atol=1e-5)


def _variants_files() -> list[Path]:
    return sorted((config.EXPERIMENTS_DIR / "batch7_symmetry").glob("gradcam_variants*.json"))


def test_each_models_grad_cam_choice_is_the_one_its_variants_file_chose():
    """A record's "gradcam" is the "chosen" of the variants file it names (experiments/batch7_symmetry/
    gradcam_variants.py scored the model and adopted it), every variants file is adopted by the model it scored, and
    the shipped model has its own choice."""
    from helpers import records

    own = {}
    for f in records.find(config.MODELS_DIR):  # shipped models and the experiments' runs
        rec = records.read(f.record)
        if not rec or rec.get("gradcam") is None:
            continue
        block = rec["gradcam"]
        assert set(block) == {"target", "grid", "chosen_in"}, f.name
        assert not Path(block["chosen_in"]).is_absolute(), f.name
        res = records.read_json(config.PROJ_ROOT / block["chosen_in"])
        assert res is not None, f"{f.name}: {block['chosen_in']} is missing"
        assert res["model"] == rec["name"] == f.name
        assert {"target": block["target"], "grid": block["grid"]} == res["chosen"], f.name
        assert explain.gradcam_choice(rec) == (res["chosen"]["target"], res["chosen"]["grid"])
        own[f.name] = block["chosen_in"]
    assert config.DEFAULT_MODEL_NAME in own
    assert _variants_files()
    for path in _variants_files():
        res = records.read_json(path)
        assert own.get(res["model"]) == path.relative_to(config.PROJ_ROOT).as_posix(), path.name


def _record(tmp_path, name: str, **extra) -> Path:
    rec = {"name": name, "arch": "tiny", "classes": list(config.CLASSES), "keras_sha256": "0" * 64, **extra}
    from helpers import records

    return records.write_json(rec, tmp_path / f"{name}.json")


def test_grad_cam_choice_is_per_model_with_the_plain_fallback(tiny_model_json, tiny_images):
    """Two models with different choices get their own target and grid, through a predictor as through its record; a
    record without a choice gets the plain Grad-CAM (the predicted class's logit on last_conv); a malformed one is
    refused."""
    from types import SimpleNamespace

    from helpers.data.prepare import prepare
    from helpers.modeling.predictor import load_model

    a = {"name": "a", "gradcam": {"target": "p_tumour", "grid": 8, "chosen_in": "a.json"}}
    b = {"name": "b", "gradcam": {"target": "type", "grid": 16, "chosen_in": "b.json"}}
    assert explain.gradcam_choice(a) == ("p_tumour", 8) and explain.gradcam_choice(b) == ("type", 16)
    assert explain.resolve_grid(SimpleNamespace(meta=a)) == 8 and explain.resolve_grid(SimpleNamespace(meta=b)) == 16
    assert explain.resolve_grid(SimpleNamespace(meta=a), grid=None) is None  # an explicit grid wins
    plain = {"name": "c", "arch": "tiny"}
    assert explain.gradcam_choice(plain) == explain.FALLBACK == ("type", None)
    p = load_model(Path(tiny_model_json).with_suffix(".keras"))
    assert "gradcam" not in p.meta and explain.gradcam_choice(p) == ("type", None)
    assert explain.gradcam_choice(p.model) == explain.FALLBACK  # a bare network carries no record
    tumour = config.TUMOUR_CLASSES[0]
    k = config.CLASSES.index(tumour)
    assert explain.call_target(config.CLASSES, k, tumour, "p_tumour") == (explain.TUMOUR, "P(tumour)")
    assert explain.call_target(config.CLASSES, k, tumour, "type") == (k, tumour)
    for bad in ({"target": "logit", "grid": 8}, {"target": "type", "grid": 0}, {"target": "type", "grid": "8"}):
        with pytest.raises(ValueError):
            explain.gradcam_choice({"name": "d", "gradcam": bad})
    # the heat map follows the predictor's record: the same network under two records, two grids
    x = prepare(tiny_images["glioma"], p.img_size)
    sizes = sorted({int(ly.output.shape[1]) for ly in p.model.layers if len(ly.output.shape) == 4})
    fine = sizes[-1] if sizes[-1] < p.img_size else sizes[-2]
    chose = SimpleNamespace(model=p.model, meta={"name": "tiny", "gradcam": {"target": "type", "grid": fine}})
    np.testing.assert_allclose(explain.gradcam(chose, x), explain.gradcam(p.model, x, grid=fine), atol=1e-6)
    np.testing.assert_allclose(explain.gradcam(p, x), explain.gradcam(p.model, x, grid=None), atol=1e-6)


def test_adopt_choice_writes_the_block_into_the_record(tmp_path):
    """adopt_choice puts a variants file's "chosen" into the record it scored as its last key (the others kept in
    order); adopting again replaces it in place; a file about another model is refused."""
    from helpers import records

    path = _record(tmp_path, "m", temperature=1.5)
    variants = records.write_json({"model": "m", "variants": [], "chosen": {"target": "p_tumour", "grid": 8}},
                                  tmp_path / "gradcam_variants.m.json")
    block = explain.adopt_choice(variants, path)
    assert block == {"target": "p_tumour", "grid": 8, "chosen_in": "gradcam_variants.m.json"}
    rec = records.read_json(path)
    assert list(rec) == ["name", "arch", "classes", "keras_sha256", "temperature", "gradcam"]
    assert rec["gradcam"] == block and explain.gradcam_choice(rec) == ("p_tumour", 8)
    records.write_json({"model": "m", "variants": [], "chosen": {"target": "type", "grid": None}}, variants)
    records.update(path, evaluation={})
    explain.adopt_choice(variants, path)
    rec = records.read_json(path)
    assert list(rec)[-2:] == ["gradcam", "evaluation"] and explain.gradcam_choice(rec) == ("type", None)
    other = _record(tmp_path, "other")
    with pytest.raises(ValueError, match="scored 'm'"):
        explain.adopt_choice(variants, other)
    assert "gradcam" not in records.read_json(other)
