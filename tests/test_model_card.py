"""The README's findings and the model card are generated from the saved JSON: they must not go stale."""
import json

from helpers import config, model_card


def test_readme_results_block_matches_the_saved_results():
    readme = (config.PROJ_ROOT / "README.md").read_text()
    block = readme.split(model_card.BEGIN)[1].split(model_card.END)[0].strip()
    assert block == model_card.results_markdown().strip(), "README is stale: run `brain-mri docs`"


def test_splits_readme_counts_match_the_committed_csvs():
    text = (config.SPLITS_DIR / "README.md").read_text()
    block = text.split(model_card.SPLITS_BEGIN)[1].split(model_card.SPLITS_END)[0].strip()
    assert block == model_card.splits_markdown().strip(), "data/splits/README.md is stale: run `brain-mri docs`"


def test_splits_markdown_counts_a_known_table(tmp_path):
    import pandas as pd

    pd.DataFrame({"path": [f"f{i}.jpg" for i in range(6)],
                  "label": ["glioma", "glioma", "notumor", "pituitary", "meningioma", "pituitary"],
                  "split": ["train", "train", "val", "test", "train", "train"],
                  "group": [0, 1, 2, 3, 4, 4]}).to_csv(tmp_path / "leakfree.csv", index=False)
    md = model_card.splits_markdown(tmp_path)
    assert "| train | 2 | 1 | 0 | 1 | 4 |" in md and "| total | 2 | 1 | 1 | 2 | 6 |" in md
    assert "5 twin groups (train 3, val 1, test 1); 1 label-conflict groups (2 files), in: train." in md


def test_model_card_quotes_the_recorded_numbers():
    meta = json.loads((config.MODELS_DIR / f"{config.DEFAULT_MODEL_NAME}.json").read_text())
    card = model_card.model_card()
    assert meta["keras_sha256"] in card
    acc = meta["evaluation"]["leakfree_test"]["accuracy"]["value"]
    assert f"{100 * acc:.1f}%" in card


def test_commonest_confusion_reads_the_matrix():
    line = model_card._commonest_confusion([[5, 1, 0, 0], [7, 3, 0, 0], [0, 0, 9, 0], [0, 2, 0, 4]])
    assert "meningioma predicted as glioma (7 of 10" in line


def test_pct_formats_value_and_ci():
    assert model_card.pct({"value": 0.9623, "ci": [0.95, 0.973]}) == "96.2% (95% CI 95.0–97.3)"
    assert model_card.pct(None) == "n/a"
