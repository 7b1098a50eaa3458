"""helpers.reporting.plots, helpers.reporting.eda and the notebook-side helpers of helpers.reporting.report (no notebook execution here)."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from helpers import config, formatting  # noqa: E402
from helpers.modeling import calibrate as calibration  # noqa: E402
from helpers.reporting import context, eda, findings, plots, runs, tables  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plots.close_all()


def _manifest() -> pd.DataFrame:
    rows = []
    for i, lab in enumerate(config.CLASSES):
        for k in range(5):
            w = 512 if lab != "notumor" or k == 0 else 200 + 10 * k
            rows.append({"path": f"Training/{lab}/{k}.jpg", "official_split": "train" if k < 4 else "test",
                         "label": lab, "format": "JPEG", "width": w, "height": w if k != 3 else w + 20,
                         "mode": "L" if k % 2 else "RGB", "bytes": 1000 * (i + 1) + k, "md5": f"{i}{k}", "error": ""})
    return pd.DataFrame(rows)


def _split() -> pd.DataFrame:
    rows = []
    g = 0
    for lab in config.CLASSES:
        for part, n in (("train", 6), ("val", 2), ("test", 2)):
            for _ in range(n):
                rows.append({"path": f"{lab}/{g}.jpg", "label": lab, "split": part, "group": g})
                g += 1
    return pd.DataFrame(rows)


def _arrays(n_per_class: int = 5, size: int = 32):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (4 * n_per_class, size, size)).astype(np.uint8)
    y = np.repeat(np.arange(4), n_per_class)
    X[y == 2] //= 2  # a darker class
    return X, y


# ------------------------------------------------------------------------------------------------ save_fig
def test_save_fig_matplotlib_png(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    paths = plots.save_fig(fig, "line", tmp_path)
    assert paths == [tmp_path / "line.png"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_save_fig_plotly_html_uses_cdn(tmp_path):
    fig = plots.fingerprint_scatter(_manifest())
    paths = plots.save_fig(fig, "fp", tmp_path, png=False)
    assert paths == [tmp_path / "fp.html"]
    text = paths[0].read_text()
    assert "cdn.plot.ly" in text and len(text) < 200_000  # plotly.js itself is ~3.5 MB
    # the same figure saved again is byte-identical (no random element id churning the committed figures)
    assert plots.save_fig(fig, "fp", tmp_path, png=False)[0].read_text() == text


def test_save_fig_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="plain file stem"):
        plots.save_fig(object(), "../escape", tmp_path)
    with pytest.raises(TypeError, match="matplotlib or plotly"):
        plots.save_fig(object(), "x", tmp_path)


def test_save_fig_default_is_figures_dir(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setattr(config, "FIGURES_DIR", tmp_path / "figs")
    assert plots.save_fig(plt.figure(), "blank") == [tmp_path / "figs" / "blank.png"]


# ------------------------------------------------------------------------------------------------ plot functions
def test_eda_plots_return_figures():
    X, y = _arrays()
    m = _manifest()
    figs = [
        plots.image_grid([X[0], X[1]], ["a", "b"], ncols=2),
        plots.sample_grid({"glioma": [X[0], X[1]], "notumor": [X[2]]}, {"glioma": ["a", "b"], "notumor": ["c"]}),
        plots.mean_images(eda.mean_images(X, y)),
        plots.intensity_distributions(eda.intensity_histograms(X, y, bins=16)),
        plots.per_image_box(eda.image_stats(X, y), "mean_intensity", "grey", "t"),
        plots.size_share_bars(eda.fingerprint_table(m)["frac_512x512"]),
        plots.counts_bars(eda.counts(_split()), "t"),
        plots.pairs_gallery([(X[0], X[1], "mirror"), (X[2], X[3], "rot180"), (X[4], X[5], "x")]),
    ]
    assert all(hasattr(f, "savefig") for f in figs)


def test_model_plots_return_figures():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(4), 80)
    yy = rng.integers(0, 4, 80)
    rel = calibration.reliability(probs, yy)
    curve = [{"threshold": t, "coverage": 1 - t / 2, "accuracy": 0.5 + t / 3} for t in (0.3, 0.6, 0.9)]
    curve.append({"threshold": 0.999, "coverage": 0.0, "accuracy": None})  # nobody accepted: skipped, no crash
    figs = [
        plots.training_curves({"loss": [1, 0.8], "val_loss": [1.1, 0.9], "accuracy": [0.4, 0.6],
                               "val_accuracy": [0.35, 0.5]}, "t"),
        plots.confusion_heatmap(np.eye(4, dtype=int) * 5 + 1),
        plots.confusion_grid({"a": np.eye(4) * 3, "b": np.ones((4, 4))}),
        plots.reliability_diagram({"raw": rel, "calibrated": rel}),
        plots.roc_curves({"m": {"fpr": [0, 0.2, 1], "tpr": [0, 0.8, 1], "auc": 0.9}}),
        plots.abstain_curve({"m": curve}, {"m": {"threshold": 0.6, "coverage": 0.7, "accuracy": 0.7}}),
        plots.abstain_curve({"m": curve}, {"m": {"threshold": 0.9, "coverage": 0.0, "accuracy": None}}),
        plots.robustness_curve({"m": [{"px": 64, "accuracy": {"value": 0.5, "ci": [0.4, 0.6]}},
                                      {"px": 128, "accuracy": 0.8}]}, native=128),
        plots.accuracy_comparison(pd.DataFrame({"model": ["a", "a", "b"], "test": ["leak-free", "official (leaky)",
                                                                                  "leak-free"],
                                                "accuracy": [0.8, 0.95, 0.5], "lo": [0.75, 0.9, np.nan],
                                                "hi": [0.85, 0.97, np.nan]})),
        plots.gradcam_gallery([{"image": np.zeros((8, 8, 3), np.uint8), "title": "ok", "ok": True},
                               {"image": np.zeros((8, 8, 3), np.uint8), "title": "bad", "ok": False}]),
    ]
    assert all(hasattr(f, "savefig") for f in figs)


# ------------------------------------------------------------------------------------------------ eda
def test_counts_and_shares():
    t = eda.counts(_split())
    assert list(t.index) == ["train", "val", "test", "total"]
    assert list(t.columns) == [*config.CLASSES, "total"]
    assert t.loc["total", "total"] == 40 and t.loc["train", "glioma"] == 6
    m = eda.counts(_manifest(), split_col="official_split")
    assert m.loc["test", "total"] == 4
    sh = eda.class_shares(t)
    assert np.allclose(sh.sum(axis=1), 1.0, atol=1e-3)


def test_subsample_per_class_keeps_order():
    df = _split()
    sub = eda.subsample(df, 3, seed=1)
    assert sub["label"].value_counts().to_dict() == {c: 3 for c in config.CLASSES}
    assert list(sub.index) == sorted(sub.index)
    assert eda.subsample(df, 3, seed=1).equals(sub)


def test_mean_images_histograms_and_stats():
    X, y = _arrays()
    means = eda.mean_images(X, y)
    assert set(means) == set(config.CLASSES) and means["glioma"].shape == (32, 32)
    assert means["notumor"].mean() < means["glioma"].mean()
    d = eda.mean_image_distances(means)
    assert d.shape == (4, 4) and (np.diag(d) == 0).all() and d.equals(d.T)
    h = eda.intensity_histograms(X, y, bins=16, min_level=10)
    assert np.allclose(h.groupby("label")["density"].sum(), 1.0)
    assert h["intensity"].min() > 0
    st = eda.image_stats(X, y)
    assert len(st) == len(X) and st["dark_fraction"].between(0, 1).all()
    s = eda.summarise_by_class(st, ["mean_intensity"])
    assert list(s.index) == list(config.CLASSES) and "mean_intensity median" in s.columns


def test_raw_intensity_stats_from_thumbnails():
    m = _manifest()
    th = np.full((len(m), 4, 4), 100.0, np.float32)
    th[0] = np.nan  # an unreadable file keeps NaN, no crash
    r = eda.raw_intensity_stats(m, th)
    assert r["mean_intensity"].iloc[1] == 100.0 and np.isnan(r["mean_intensity"].iloc[0])


def test_fingerprint_table_reads_the_shortcut():
    t = eda.fingerprint_table(_manifest())
    assert t.loc["glioma", "frac_512x512"] == 0.8  # one of five is 512x532
    assert t.loc["notumor", "frac_512x512"] == 0.2
    assert t.loc["glioma", "most common size"] == "512×512"
    assert "L" in t.loc["glioma", "colour modes"] and t.loc["glioma", "files"] == 5
    sd = eda.size_distribution(_manifest(), top=2)
    assert list(sd.index)[-1] == "other" and sd.to_numpy().sum() == 20
    X, _ = _arrays()
    assert eda.sizes_after(X).to_dict() == {"32×32": len(X)}


def test_shortcut_demo_prepare_removes_size_and_border(tiny_images):
    demo = eda.shortcut_demo(tiny_images["glioma"], size=64)
    assert [r.shape for r in demo["raw"]] == [(512, 512), (230, 230)]
    assert all(p.shape == (64, 64) for p in demo["prepared"])
    assert demo["mad_prepared"] < 0.5 * demo["mad_raw_thumb"]


def test_cross_split_twins_and_audit_headline():
    df = _split()
    assert eda.cross_split_twins(df) == 0
    df.loc[df.index[-1], "group"] = 0  # a test image sharing train group 0
    assert eda.cross_split_twins(df) == 1
    a = {"n_images": 10, "n_groups": 8, "exact": {"n_duplicate_files": 1, "test_in_train": 1},
         "near": {"n_pairs": 3, "test_with_train_twin": 2, "n_test": 4, "largest_group": 3}, "n_label_conflicts": 0}
    t = eda.audit_headline(a, df)
    assert t.loc["official-test images with a training twin", "value"] == "2 of 4"
    assert t.loc["leak-free test images with a train/val twin", "value"] == 1


def test_leak_pairs_and_samples_on_phantoms(phantom_dir, isolated_cache):
    from helpers.data import audit
    from helpers.data import layouts as data

    m = data.build_manifest(phantom_dir, progress=False)
    a = audit.audit(m, phantom_dir, progress=False)
    pairs = eda.leak_pair_images(a, phantom_dir, max_pairs=3)
    assert len(pairs) <= 3 and all(p[0].ndim == 2 and isinstance(p[2], str) for p in pairs)
    imgs, caps = eda.sample_images(m, phantom_dir, n_per_class=2)
    assert set(imgs) == set(config.CLASSES) and all(len(v) == 2 for v in imgs.values())
    assert "×" in caps["glioma"][0]


# ------------------------------------------------------------------------------------------------ report helpers
def test_metric_and_value_formatting():
    b = {"a": {"accuracy": {"value": 0.9123, "ci": [0.9, 0.93]}, "n": 5}}
    assert formatting.metric(b, "a", "accuracy") == "91.2% (95% CI 90.0–93.0)"  # the house style
    assert formatting.metric(b, "a", "accuracy", ci=False) == "91.2%"
    assert formatting.metric(b, "a", "missing") == "n/a"
    assert formatting.metric({"x": 0.5}, "x", fmt="{:.2f}") == "0.50"
    assert formatting.metric({"x": {"value": 0.5, "ci": [None, None]}}, "x") == "50.0%"
    assert formatting.value(b, "a", "accuracy") == 0.9123 and formatting.value(b, "a", "n") == 5
    assert formatting.value(b, "nope", default=-1) == -1


def test_evaluation_status():
    assert runs.evaluation_status(None)[0] is False
    assert runs.evaluation_status({"keras_sha256": "k"})[1] == "no evaluation recorded yet"
    meta = {"keras_sha256": "k", "evaluation": {"split_sha256": "s1", "synthetic": False, "keras_sha256": "k",
                                                "evaluated_at": "t"}}
    assert runs.evaluation_status(meta, "s1", False)[0] is True
    ok, why = runs.evaluation_status(meta, "s2", False)
    assert not ok and "stale" in why
    assert runs.evaluation_status(meta, "s1", True)[0] is False
    meta["keras_sha256"] = "other"
    assert "weights changed" in runs.evaluation_status(meta, "s1", False)[1]


def test_show_path_never_absolute(tmp_path, monkeypatch):
    monkeypatch.setenv("BRAIN_MRI_DATA", str(tmp_path / "data"))
    assert context.show_path(config.PROJ_ROOT / "figures" / "a.png") == "figures/a.png"
    assert context.show_path(tmp_path / "data" / "Training" / "x.jpg") == "$BRAIN_MRI_DATA/Training/x.jpg"
    assert context.show_path("/somewhere/else/file.txt") == "file.txt"


def test_smoke_subset_links_a_stratified_sample(phantom_dir, tmp_path):
    dest = context.smoke_subset(phantom_dir, tmp_path / "sub" / "brain-tumor-mri", per_class=(2, 1), seed=3)
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.jpg"))
    assert len(files) == 4 * 3
    assert sum(f.startswith("Testing/") for f in files) == 4
    assert all((dest / f).read_bytes() == (phantom_dir / f).read_bytes() for f in files)
    again = context.smoke_subset(phantom_dir, dest, per_class=(2, 1), seed=3)  # idempotent
    assert sorted(p.relative_to(again).as_posix() for p in again.rglob("*.jpg")) == files


def test_context_keeps_smoke_and_synthetic_output_out_of_figures(phantom_dir, tmp_path):
    ctx = context.context(phantom_dir, smoke=False, output_dir=tmp_path / "out")
    assert ctx.synthetic and not ctx.real
    assert ctx.fig_dir == tmp_path / "out" / "figures" and ctx.model_dir == tmp_path / "out" / "models"
    ctx2 = context.context(phantom_dir, smoke=True, output_dir=tmp_path / "out", model_dir=tmp_path / "m")
    assert ctx2.model_dir == tmp_path / "m" and ctx2.root == phantom_dir  # phantoms are not subsampled again
    html = context.banner(ctx).data
    assert context.BANNER_SYNTHETIC in html
    assert "<output>" in context.describe(ctx) and str(tmp_path) not in context.describe(ctx)


def test_model_plan_rules(phantom_dir, tmp_path):
    ctx = context.context(phantom_dir, smoke=True, output_dir=tmp_path)
    p = runs.model_plan("brain_tumor_cnn", ctx)
    assert p["action"] == "train" and p["config"]["arch"] == "tiny" and p["json"].parent == tmp_path / "models"
    p = runs.model_plan("capstone_cnn", ctx, epochs=1, img_size=48)
    assert p["config"]["arch"] == "capstone_cnn" and p["config"]["epochs"] == 1 and p["config"]["img_size"] == 48
    real = context.RunContext(root=tmp_path, synthetic=False, smoke=False, out_dir=tmp_path, fig_dir=tmp_path,
                             model_dir=tmp_path / "none")
    p = runs.model_plan("capstone_cnn", real)
    assert p["action"] == "missing" and "brain-mri train --arch capstone_cnn" in p["why"]
    assert runs.model_names(real) == ["brain_tumor_cnn", "capstone_cnn"]


def _fake_record(acc: float) -> dict:
    blk = lambda v: {"value": v, "ci": [v - 0.02, v + 0.02]}  # noqa: E731
    rel = {"ece": 0.05, "bins": [{"lo": 0, "hi": 1, "n": 10, "confidence": 0.8, "accuracy": 0.75}]}
    split = {"n": 100, "accuracy": blk(acc), "macro_f1": blk(acc - 0.01),
             "per_class": {c: {"precision": blk(0.9), "recall": blk(0.8), "f1": blk(0.85), "support": 25}
                           for c in config.CLASSES},
             "confusion": [[20, 1, 3, 1], [1, 22, 1, 1], [0, 0, 25, 0], [0, 1, 2, 22]],
             "tumour": {"sensitivity": blk(0.92), "specificity": blk(0.97), "roc_auc": blk(0.98),
                        "roc": {"fpr": [0, 1], "tpr": [0, 1]}},
             "calibration": {"ece_raw": 0.08, "ece_calibrated": 0.03, "reliability_raw": rel,
                             "reliability_calibrated": rel},
             "abstain": {"threshold": 0.8, "coverage": 0.85, "accuracy": 0.97, "n_referred": 15, "curve": []}}
    return {"arch": "resnet_small", "params": 400_000, "img_size": 128, "temperature": 1.4,
            "evaluation": {"leakfree_test": split, "official_test": {**split, "accuracy": blk(acc + 0.05),
                                                                     "n_in_training_split": 80,
                                                                     "unseen_subset": {"n": 20, "accuracy": blk(acc)}},
                           "robustness": {"resolution": [{"px": 64, "accuracy": blk(acc - 0.2)},
                                                         {"px": 192, "accuracy": blk(acc)}],
                                          "size512_subset": {"n": 60, "accuracy": blk(acc - 0.03)}}}}


def test_result_tables_and_findings_use_recorded_numbers(tmp_path):
    records = {"brain_tumor_cnn": _fake_record(0.913), "capstone_cnn": _fake_record(0.801)}
    baselines = {"metadata_only": {"leakfree_test": {"accuracy": {"value": 0.62, "ci": [0.6, 0.64]}},
                                   "official_test": {"accuracy": {"value": 0.71, "ci": [0.69, 0.73]}}},
                 "majority_class": {"leakfree_test": {"accuracy": {"value": 0.29, "ci": [0.27, 0.31]}}}}
    t = tables.metrics_table(records)
    assert t.loc["our model", "accuracy"].startswith("91.3%") and t.loc["capstone CNN", "n"] == 100
    assert tables.per_class_table(records["brain_tumor_cnn"]).loc["glioma", "support"] == 25
    assert tables.missed_tumours(records["brain_tumor_cnn"]) == {"missed": 6, "of": 75,
                                                                 "per_class": {"glioma": 3, "meningioma": 1, "pituitary": 2}}
    leak = tables.leakage_table(records, baselines)
    assert set(leak["test"]) == {"leak-free", "official (leaky)"} and len(leak) == 7  # 2 models x 2, 2 + 1 baselines
    assert "+9.0 points" in findings.inflation_markdown(leak, records)
    assert tables.size512_table(records).loc["our model", "n (512×512)"] == 60
    eda_rec = {"n_files": 1000, "frac_512x512": {"glioma": 1.0, "notumor": 0.01}, "test_with_train_twin": 300,
               "n_official_test": 400, "leakfree_cross_split_twins": 0,
               "audit": {"n_groups": 700, "n_label_conflicts": 4, "exact": {"n_duplicate_files": 30}}}
    ctx = context.RunContext(root=tmp_path, synthetic=False, smoke=False, out_dir=tmp_path, fig_dir=tmp_path,
                            model_dir=tmp_path)
    h = findings.headline(ctx, records, baselines, eda_rec)
    json.dumps(h)  # JSON-ready
    assert h["models"]["brain_tumor_cnn"]["leakfree_accuracy"]["value"] == 0.913
    text = findings.findings_markdown(h)
    for s in ("300 of its 400", "91.3%", "62.0%", "6 of 75", "8.0% to 3.0%", "85.0%"):
        assert s in text, s


def test_baseline_table_and_training_notes():
    rec = {"metadata_only": {"leakfree_test": {"accuracy": {"value": 0.6, "ci": [0.5, 0.7]},
                                               "macro_f1": {"value": 0.55, "ci": [0.5, 0.6]}},
                             "official_test": {"accuracy": {"value": 0.7, "ci": [0.6, 0.8]}}}}
    t = tables.baseline_table(rec)
    assert t.loc["metadata only (no pixels)", "leak-free accuracy"] == "60.0% (95% CI 50.0–70.0)"
    assert tables.baseline_table(None) is None
    notes = findings.training_notes({"brain_tumor_cnn": {"arch": "tiny", "params": 10, "history": {
        "loss": [1, 0.5], "accuracy": [0.5, 0.9], "val_accuracy": [0.6, 0.7]}, "train_wall_s": 30}, "capstone_cnn": None})
    assert "validation accuracy in the training log 70.0% at epoch 2" in notes and "not available" in notes
    # the training cost is stated even when the history has no train accuracy (no train-val gap to print)
    no_train_acc = findings.training_notes({"m": {"arch": "tiny", "params": 10, "history": {"loss": [1], "val_accuracy": [0.6]},
                                                  "train_wall_s": 30, "train_images_per_s": 12.5}})
    assert "30 s of training at 12.5 images/s" in no_train_acc and "train − validation" not in no_train_acc


def test_model_table_and_layer_table(tiny_model_json):
    from helpers.modeling import predictor as predict

    meta = json.loads(tiny_model_json.read_text())
    t = tables.model_table({"brain_tumor_cnn": meta})
    assert t.loc["architecture", "our model"] == "tiny" and t.loc["parameters", "our model"] == f"{meta['params']:,}"
    p = predict.load_model(tiny_model_json.with_suffix(".keras"))
    lt = tables.layer_table(p.model)
    assert lt["params"].sum() == meta["params"]
    assert "last_conv" in tables.summary_text(p.model)


def test_ensemble_records_in_the_report(tmp_path, monkeypatch):
    hist = lambda a: {"loss": [1, 0.5], "accuracy": [0.5, a], "val_loss": [1, 0.6], "val_accuracy": [0.6, a]}  # noqa: E731
    for name, seed, acc in (("m42", 42, 0.9), ("m7", 7, 0.8)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"name": name, "arch": "resnet_small", "params": 10,
                                                           "history": hist(acc), "train_wall_s": 60}))
    ens = {"name": "brain_tumor_cnn", "arch": "ensemble", "params": 20, "train_wall_s": 120, "history": {},
           "config": {"arch": "ensemble", "members": ["m42", "m7"]},
           "members": [{"name": "m42", "config": {"seed": 42, "arch": "resnet_small"}, "epochs_run": 2,
                        "val_accuracy": 0.9},
                       {"name": "m7", "config": {"seed": 7, "arch": "resnet_small"}, "epochs_run": 2}]}
    h = runs.training_histories(ens, tmp_path)
    assert set(h) == {"m42", "m7"} and h["m7"]["val_accuracy"] == [0.6, 0.8]
    fig = plots.training_curves(h, "members")
    assert len(fig.axes[1].lines) == 4  # train and validation accuracy of each member
    assert "ensemble" in findings.architecture_markdown(ens, tmp_path) and "seed 7" in findings.architecture_markdown(ens, tmp_path)
    notes = findings.training_notes({"brain_tumor_cnn": ens}, tmp_path)
    assert "ensemble` of 2" in notes and "validation accuracy in the training log 80.0% at epoch 2" in notes
    # a retrain on real data trains each member's recorded recipe, then merges
    (tmp_path / "brain_tumor_cnn.json").write_text(json.dumps(ens))
    real = context.RunContext(root=tmp_path, synthetic=False, smoke=False, out_dir=tmp_path, fig_dir=tmp_path,
                             model_dir=tmp_path)
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path)
    p = runs.model_plan("brain_tumor_cnn", real, retrain=True)
    assert p["action"] == "train" and [c["seed"] for c in p["config"]["member_configs"]] == [42, 7]


def test_retraining_a_gpu_trained_model_drops_its_shared_gpu_time_guard(tmp_path, monkeypatch):
    rec = {"name": "brain_tumor_cnn", "arch": "resnet_small", "data": {"cpu_count": 16},
           "versions": {"backend": "jax", "device": "NVIDIA H200"},
           "config": {"arch": "resnet_small", "seed": 8, "time_budget_min": 7, "model_kwargs": {"width": 32}}}
    (tmp_path / "brain_tumor_cnn.json").write_text(json.dumps(rec))
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path)
    real = context.RunContext(root=tmp_path, synthetic=False, smoke=False, out_dir=tmp_path, fig_dir=tmp_path,
                             model_dir=tmp_path)
    p = runs.model_plan("brain_tumor_cnn", real, retrain=True)
    assert p["config"]["time_budget_min"] == 0 and p["config"]["seed"] == 8 and "NVIDIA H200 GPU" in p["why"]
    rec["versions"] = {"backend": "tensorflow"}  # a CPU record keeps its budget as recorded
    (tmp_path / "brain_tumor_cnn.json").write_text(json.dumps(rec))
    assert runs.model_plan("brain_tumor_cnn", real, retrain=True)["config"]["time_budget_min"] == 7


def test_architecture_line_names_the_net_its_augmentation_and_where_it_trained(tmp_path):
    meta = {"name": "brain_tumor_cnn", "arch": "resnet_small", "params": 2848164, "run_name": "r8",
            "config": {"seed": 8, "model_kwargs": {"width": 32, "stem_pool": False, "augment_layer": "affine"}},
            "versions": {"backend": "jax", "device": "NVIDIA H200"}, "data": {"cpu_count": 16}}
    line = findings.architecture_markdown(meta, tmp_path)
    for part in ("(run `r8`)", "`resnet_small` (width 32, no stem pooling)", "2,848,164 parameters", "seed 8",
                 "RandomAffineAugment", "trained on one NVIDIA H200 GPU"):
        assert part in line, part
    cpu = {"name": "c", "arch": "capstone_cnn", "params": 10, "config": {"seed": 42}, "data": {"cpu_count": 2}}
    assert findings.architecture_markdown(cpu, tmp_path) == "`c`: `capstone_cnn`, 10 parameters, seed 42; trained on 2 CPU cores."


def test_pair_captions_do_not_overlap_the_row_above():
    """label_conflicts.png: a two-line caption of row 2 sat on the images of row 1."""
    from matplotlib.text import Text

    cap = "meningioma vs pituitary\nTe-me_0156.jpg | Te-piTr_0002.jpg"
    X = [np.full((512, 512), v, np.uint8) for v in range(0, 240, 30)]
    fig = plots.pairs_gallery([(X[i], X[i + 1], cap) for i in range(0, 8, 2)])
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    axes = np.array(fig.axes).reshape(2, 4)
    above = min(ax.get_window_extent(r).y0 for ax in axes[0])
    for c in (0, 2):
        title = next(t for t in axes[1, c].get_children() if isinstance(t, Text) and t.get_text() == cap)
        assert 0 < title.get_window_extent(r).y1 <= above, (title.get_window_extent(r), above)


def test_one_loss_spike_puts_the_loss_on_a_log_scale():
    spike = {"loss": [1.0, 0.8, 0.5, 0.4], "val_loss": [4.4, 17.3, 0.6, 0.5], "accuracy": [0.5, 0.7, 0.8, 0.9],
             "val_accuracy": [0.2, 0.3, 0.8, 0.9]}
    assert plots.training_curves(spike).axes[0].get_yscale() == "log"
    calm = {**spike, "val_loss": [1.1, 0.9, 0.6, 0.5]}
    assert plots.training_curves(calm).axes[0].get_yscale() == "linear"
