"""The README's findings and the model card are generated from the saved JSON: they must not go stale."""
import json
import pytest

from helpers import config, formatting, records
from helpers.reporting import docs, model_card, recipes


def test_readme_results_block_matches_the_saved_results():
    readme = (config.PROJ_ROOT / "README.md").read_text()
    block = readme.split(docs.BEGIN)[1].split(docs.END)[0].strip()
    assert block == model_card.results_markdown().strip(), "README is stale: run `brain-mri docs`"


def test_splits_readme_counts_match_the_committed_csvs():
    text = (config.SPLITS_DIR / "README.md").read_text()
    block = text.split(docs.SPLITS_BEGIN)[1].split(docs.SPLITS_END)[0].strip()
    assert block == docs.splits_markdown().strip(), "data/splits/README.md is stale: run `brain-mri docs`"


def test_splits_markdown_counts_a_known_table(tmp_path):
    import pandas as pd

    pd.DataFrame({"path": [f"f{i}.jpg" for i in range(6)],
                  "label": ["glioma", "glioma", "notumor", "pituitary", "meningioma", "pituitary"],
                  "split": ["train", "train", "val", "test", "train", "train"],
                  "group": [0, 1, 2, 3, 4, 4]}).to_csv(tmp_path / "leakfree.csv", index=False)
    md = docs.splits_markdown(tmp_path)
    assert "| train | 2 | 1 | 0 | 1 | 4 |" in md and "| total | 2 | 1 | 1 | 2 | 6 |" in md
    assert "5 twin groups (train 3, val 1, test 1); 1 label-conflict groups (2 files), in: train." in md


def test_model_card_quotes_the_recorded_numbers():
    meta = records.read(config.MODELS_DIR, getattr(config, "REPORT_MODEL_NAME", config.DEFAULT_MODEL_NAME))
    card = model_card.model_card()  # the report model's card
    assert meta["keras_sha256"] in card
    acc = meta["evaluation"]["leakfree_test"]["accuracy"]["value"]
    assert f"{100 * acc:.1f}%" in card


def test_commonest_confusion_reads_the_matrix():
    line = model_card._commonest_confusion([[5, 1, 0, 0], [7, 3, 0, 0], [0, 0, 9, 0], [0, 2, 0, 4]])
    assert "meningioma predicted as glioma (7 of 10" in line


def test_pct_formats_value_and_ci():
    assert formatting.pct_ci({"value": 0.9623, "ci": [0.95, 0.973]}) == "96.2% (95% CI 95.0–97.3)"
    assert formatting.pct_ci(None) == "n/a"


def test_missed_tumours_counts_confidence_and_best_specificity(tmp_path):
    from helpers.reporting.model_card import _missed_tumours

    rows = ["path,eval_split,label,p_tumour,prediction"]
    # 200 tumours: two missed (one confidently), 10 no-tumour images with P(tumour) 0.0 .. 0.9
    for i in range(200):
        p = {0: 0.05, 1: 0.3}.get(i, 0.99)
        rows.append(f"t{i}.jpg,leakfree_test,glioma,{p},{'notumor' if p < 0.5 else 'glioma'}")
    for i in range(10):
        rows.append(f"n{i}.jpg,leakfree_test,notumor,{i / 10},{'notumor' if i < 5 else 'glioma'}")
    rows.append("x.jpg,official_test,glioma,0.01,notumor")  # other splits are ignored
    (tmp_path / "m.predictions.csv").write_text("\n".join(rows))
    (tmp_path / "leakfree.csv").write_text("path,label,split,group\nt0.jpg,glioma,test,7\nt1.jpg,glioma,test,7\n")
    (line,) = _missed_tumours(tmp_path, "m", splits_dir=tmp_path)
    assert "2 of 200 tumour images" in line and "(1 distinct pictures" in line and "1 of them with P(tumour) < 0.1" in line
    # keeping >= 99.5% of 200 tumours allows one miss: threshold 0.3, so no-tumour scores 0.0-0.2 are below it
    assert "any threshold gives on this test split is 30.0%, so no threshold reaches" in line
    assert _missed_tumours(tmp_path, "absent") == []


def test_recipe_rows_name_the_regularisers_and_skip_unevaluated_records(tmp_path):
    ev = {"leakfree_test": {"accuracy": {"value": 0.9, "ci": [0.88, 0.92]}, "n": 10}}
    base = {"arch": "resnet_small", "epochs_run": 80, "validation": {"accuracy": 0.95}, "evaluation": ev}
    recs = {"a": {**base, "name": "a", "config": {"weight_decay": 0.05, "ema_momentum": 0.998, "mixup_alpha": 0.4,
                                                  "epochs": 80, "early_stop_from": 0.75}},
            "b": {**base, "name": "b", "config": {"weight_decay": 0.05, "model_kwargs": {"width": 24}}},
            "c": {"name": "c", "config": {}},  # never evaluated
            "d": {**base, "name": "d", "config": {"weight_decay": 0.05, "reweight": "intensity_profile", "lr": 0.0003,
                                                  "init_from": "models/brain_tumor_cnn.keras",
                                                  "model_kwargs": {"width": 32, "gamma": 0.4}}}}
    for name, rec in recs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(rec))
    (tmp_path / "a.keras").write_bytes(b"")
    rows = recipes.recipe_rows(tmp_path)
    assert [r[0] for r in rows] == ["`a`", "`b`, weights not committed", "`d`, weights not committed"]
    assert rows[2][5] == "reweight intensity_profile, random gamma 0.4, fine-tune of `brain_tumor_cnn` at lr 0.0003"
    assert rows[0][10] == "n/a"  # no predictions saved: no miss count
    import pandas as pd

    pred = pd.DataFrame({"path": ["x", "y", "z"], "eval_split": "leakfree_test", "label": ["glioma", "glioma", "notumor"],
                         "p_tumour": [0.2, 0.9, 0.1], "prediction": ["notumor", "glioma", "notumor"]})
    pred.to_csv(tmp_path / "b.predictions.csv", index=False)
    assert recipes.recipe_rows(tmp_path)[1][10] == "1"  # predictions but no profile baseline: the count alone
    pred.assign(p_tumour=[0.1, 0.9, 0.5]).to_csv(tmp_path / "intensity_only.predictions.csv", index=False)
    assert recipes.recipe_rows(tmp_path)[1][10] == "1 (1)"
    assert rows[0][5] == "weight EMA 0.998, mixup 0.4" and rows[1][5] == "none"
    assert rows[1][1] == "resnet_small (width 24)" and rows[0][8] == "95.0%"
    assert rows[0][7] == "? CPU cores"  # no versions recorded: a CPU run (GPU runs name their device)
    assert rows[0][3] == "from epoch 61" and rows[1][3] == "n/a"  # Keras counts start_from_epoch from 0


def test_recipes_markdown_is_one_table_row_per_record():
    rows = [("`a`", "resnet_small (width 16)", 80, "from epoch 61", 0.05, "none", "hflip", "2 CPU cores", "97.0%", "96.0%")]
    lines = recipes.recipes_markdown(rows).splitlines()
    assert lines[0].startswith("| model |") and lines[1] == "|" + "---|" * len(recipes.RECIPE_COLUMNS)
    assert lines[2] == ("| `a` | resnet_small (width 16) | 80 | from epoch 61 | 0.05 | none | hflip | 2 CPU cores | 97.0% "
                        "| 96.0% |")


def test_seed_spread_groups_same_recipe_runs_and_ignores_seed_name_and_budget(tmp_path):
    def rec(name, seed, val, test, **cfg):
        base = {"arch": "resnet_small", "epochs": 80, "lr": 0.003, "name": name, "seed": seed, "time_budget_min": 64}
        m = {"name": name, "config": {**base, **cfg}, "validation": {"accuracy": val},
             "evaluation": {"leakfree_test": {"accuracy": {"value": test, "ci": [0, 1]}}}}
        (tmp_path / f"{name}.json").write_text(json.dumps(m))

    rec("a", 42, 0.98, 0.97)
    rec("b", 7, 0.96, 0.975, time_budget_min=0, ema_momentum=None)  # budget, and a later key left off: same recipe
    rec("c", 8, 0.97, 0.965)
    rec("other", 1, 0.9, 0.9, epochs=40)  # another recipe, one seed only: no spread
    (spread,) = recipes.seed_spread(tmp_path)
    assert [r["name"] for r in spread["runs"]] == ["b", "c", "a"]  # by seed
    assert spread["test"]["mean"] == pytest.approx(0.97) and spread["val"]["sd"] == pytest.approx(0.01)
    assert spread["test"]["min"] == 0.965 and spread["test"]["max"] == 0.975
    text = recipes.seed_spread_markdown(tmp_path)
    assert "3 seeds" in text and "SD 1.00 points" in text and "other" not in text
    # the headline of a model picked among seeds says what the recipe gives on average; a lone run says nothing
    (line, _) = model_card._selection_lines({"name": "c", "selection": "best val of 3"}, tmp_path)
    assert "one of 3 seeds" in line and "averages 97.0% (SD 0.5 points, range 96.5–97.5%)" in line
    assert model_card._selection_lines({"name": "other", "selection": "x"}, tmp_path) == []
    assert model_card._selection_lines({"name": "c"}, tmp_path) == []  # not picked among runs: no such claim


def test_trained_on_names_a_gpu_only_when_a_gpu_backend_ran():
    from helpers.reporting.recipes import net_label
    from helpers.records import trained_on

    gpu = {"versions": {"backend": "jax", "device": "NVIDIA H200"}, "data": {"cpu_count": 16}}
    assert trained_on(gpu) == "one NVIDIA H200 GPU"
    assert trained_on({"versions": {"backend": "jax", "device": "cpu"}, "data": {"cpu_count": 2}}) == "2 CPU cores"
    assert trained_on({"versions": {"backend": "tensorflow"}, "data": {"cpu_count": 2}}) == "2 CPU cores"
    cfg = {"arch": "resnet_small", "model_kwargs": {"width": 32, "stem_pool": False}}
    assert net_label(cfg) == "resnet_small (width 32, no stem pooling)"
    assert net_label({"arch": "capstone_cnn"}) == "capstone_cnn"


def test_profile_line_reads_the_baseline_and_ranks_the_misses(tmp_path):
    import pandas as pd

    from helpers.evaluation.baselines import PROFILE_PREDICTIONS

    assert model_card._profile_line(tmp_path, "brain_tumor_cnn") == []  # no baselines recorded: no claim
    (tmp_path / "baselines.json").write_text(json.dumps(
        {"intensity_only": {"leakfree_test": {"accuracy": {"value": 0.781, "ci": [0.755, 0.806]}}}}))
    rows = lambda pts: pd.DataFrame([{"path": f"f{i}", "eval_split": "leakfree_test", "label": "glioma",  # noqa: E731
                                      "p_tumour": p, "prediction": "glioma" if p >= 0.5 else "notumor"}
                                     for i, p in enumerate(pts)])
    rows([0.2] + [0.9] * 19).to_csv(tmp_path / "brain_tumor_cnn.predictions.csv", index=False)
    rows([i / 20 for i in range(20)]).to_csv(tmp_path / PROFILE_PREDICTIONS, index=False)
    (line,) = model_card._profile_line(tmp_path, "brain_tumor_cnn")
    assert "78.1% (95% CI 75.5–80.6)" in line and "All 1 missed tumours" in line
    assert "sensitivity there 50.0%, elsewhere 100.0%" in line


def test_scan_type_lines_read_saved_tags_and_predictions(tmp_path):
    import json

    import numpy as np
    import pandas as pd

    from helpers.evaluation import scan_type

    rng = np.random.default_rng(0)
    F, y = rng.normal(size=(30, 3)), np.array(["axial", "coronal", "sagittal"] * 10)
    plane = scan_type._pipe_json(scan_type._logreg(1.0).fit(F, y))
    modality = scan_type._pipe_json(scan_type._logreg(1.0).fit(F, np.array(["CT", "MRI"] * 15)))
    paths = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    doc = {"plane": plane, "modality": modality, "cv_accuracy": {"plane": 0.9, "modality": 0.99},
           "train_counts": {"ct": {"notumor": 5, "meningioma": 1}},
           "test_tags": {"path": paths, "plane": ["axial", "axial", "coronal", "sagittal"],
                         "is_ct": [True, False, False, False]}}
    assert model_card._scan_type_lines(tmp_path, "m", splits_dir=tmp_path) == []  # nothing saved yet
    (tmp_path / "scan_type.json").write_text(json.dumps(doc))
    pd.DataFrame({"path": paths, "eval_split": "leakfree_test", "label": ["notumor", "glioma", "notumor", "glioma"],
                  "prediction": ["notumor", "notumor", "glioma", "glioma"]}).to_csv(tmp_path / "m.predictions.csv",
                                                                                    index=False)
    pd.DataFrame({"path": paths, "label": "x", "split": "test", "group": range(4)}).to_csv(
        tmp_path / "leakfree.csv", index=False)
    lines = model_card._scan_type_lines(tmp_path, "m", splits_dir=tmp_path)
    assert len(lines) == 2
    assert "90.0% accurate out-of-fold" in lines[0]
    assert "of the 2 no-tumour test slices, 1 are axial and only 1 coronal or sagittal" in lines[0]
    assert "1 of 1 (100.00%) coronal or sagittal" in lines[0] and "Missed tumours: 1 (1 axial)" in lines[0]
    assert "5 of the 6 in the training split" in lines[1] and "1 are in the leak-free test split" in lines[1]


def test_the_shipped_models_card_is_the_committed_one_and_shows_its_loco_estimate():
    """The committed card is what `brain-mri docs` writes now, and its leave-sources-out table has a row per held-out
    source (a recipe without a table name once left it empty)."""
    from helpers.reporting import batch12

    name = config.DEFAULT_MODEL_NAME
    card = batch12.model_card(name)
    assert card is not None and card == (config.MODELS_DIR / name / "MODEL_CARD.md").read_text()
    est = card.split("**On a collection nobody has shown it**", 1)[1].split("## Warnings", 1)[0]
    for source in ("Br35H", "Sartaj", "figshare", "niivue"):
        assert f"| {source} | plain |" in est, source
