"""Batch 44's rule (evaluation.intensity_net.decide44) and its RESULTS.md, on made-up numbers."""
import pytest

from helpers.evaluation import intensity_net as inet
from helpers.reporting import batch44


def _side(primary, s1, s2, drop, complete=True):
    return {"merged": {"candidate": "plain", "primary": primary, "drop": drop, "mean_drop": drop / 2},
            "per_seed": {1: s1, 2: s2}, "complete": complete}


BO = _side(0.867, 0.84, 0.85, 3.3)


def test_qualifies_with_two_points_each_seed_up_and_the_drop_kept():
    ok, note = inet.decide44(_side(0.890, 0.85, 0.86, 4.0), BO)
    assert ok is True and "qualifies" in note and "+2.3 points" in note


@pytest.mark.parametrize("new, why", [
    (_side(0.880, 0.85, 0.86, 3.3), "under +2"),           # 1.3 points only
    (_side(0.890, 0.83, 0.86, 3.3), "not each above"),     # seed 1 below he_bo's
    (_side(0.890, 0.85, 0.86, 4.5), "more than 1 point"),  # drop 1.2 points larger
])
def test_each_condition_can_fail_alone(new, why):
    ok, note = inet.decide44(new, BO)
    assert ok is False and why in note and "he_bo stays" in note


def test_a_missing_run_gives_no_decision():
    ok, note = inet.decide44(_side(0.95, 0.9, 0.9, 1.0, complete=False), BO)
    assert ok is None and "missing" in note


def test_results_markdown_prints_both_merges_and_the_br35h_line():
    res = {"decision": "merge ...: he_bo_gin does not qualify: he_bo stays",
           "gin": {"merged": {"primary": 0.87, "drop": 3.0, "mean_drop": 1.0}, "per_seed": {"1": 0.86, "2": 0.85}},
           "bo": {"merged": {"primary": 0.867, "drop": 3.3, "mean_drop": 2.1}, "per_seed": {"1": 0.84, "2": 0.85}},
           "per_source": [{"source": "br35h", "view": "plain", "sensitivity_gin": 0.7, "sensitivity_bo": 0.6,
                           "specificity_gin": 0.9, "specificity_bo": 0.95},
                          {"source": "ixi-t2", "view": "plain", "sensitivity_gin": None, "sensitivity_bo": None,
                           "specificity_gin": 0.99, "specificity_bo": 0.98}],
           "loco": [], "floors_merged": {}}
    md = batch44.results44_markdown(res)
    assert "| he_bo + GIN (a random network's grey levels) | 87.0% | 3.0 points | 1.0 points | 86.0% | 85.0% |" in md
    assert "| Br35H | plain | 70.0% | 60.0% | 90.0% | 95.0% |" in md and "| IXI T2 | plain | n/a | n/a |" in md
    line = batch44.summary_line(res)
    assert line.startswith("Batch 44 (") and "Br35H sensitivity on the merges 70.0% with GIN, 60.0% without" in line
    assert batch44.summary_line({"decision": "not measured yet"}) is None


def test_mixed_merge_rule_and_seed_offset():
    import pandas as pd

    b = {"primary": 0.884, "drop": 8.2, "mean_drop": 3.9}
    assert inet.decide45({"primary": 0.895, "drop": 9.0}, b)[0] is True
    assert inet.decide45({"primary": 0.890, "drop": 6.0}, b)[0] is False  # 0.6 point only
    assert inet.decide45({"primary": 0.899, "drop": 9.5}, b)[0] is False  # drop 1.3 points larger
    assert inet.decide45({"primary": None, "drop": None}, b)[0] is None
    v = pd.DataFrame({"seed": [1, 2], "row": [0, 0]})
    assert sorted(inet.mixed_views(v, v)["seed"]) == [1, 2, 101, 102]  # four members, no shared seed


def test_no_mirror_results_print_the_plane_table():
    res = {"decision": "merge of seeds 1 and 2: he_bo_nm ... he_bo_nm does not qualify: he_bo stays",
           "nm": {"merged": {"primary": 0.86, "drop": 3.0, "mean_drop": 1.0}, "per_seed": {"1": 0.86, "2": 0.85}},
           "bo": {"merged": {"primary": 0.867, "drop": 3.3, "mean_drop": 2.1}, "per_seed": {"1": 0.84, "2": 0.85}},
           "per_source": [], "loco": [], "floors_merged": {},
           "by_plane": [{"source": "sartaj", "truth": "healthy", "plane": "sagittal", "n": 101, "called_nm": 0.5,
                         "called_bo": 0.792}]}
    md = batch44.results46_markdown(res)
    assert "| he_bo without the asymmetry channel | 86.0% |" in md
    assert "| Sartaj | healthy | sagittal | 101 | 50.0% | 79.2% |" in md
    assert "sagittal slices called tumour 50.0% without the channel, 79.2% with it" in batch44.summary_line46(res)


def test_mixed_merge_names_its_recipe_and_prints_its_table():
    b = {"primary": 0.884, "drop": 8.2, "mean_drop": 3.9}
    ok, note = inet.decide45({"primary": 0.847, "drop": 8.3}, b, "mixnm4", "he_bo_nm")
    assert ok is False and note.startswith("mixnm4 (he_bo seeds 1, 2 and he_bo_nm seeds 1, 2) 84.7%")
    res = {"decision": note, "mix4": {"primary": 0.847, "drop": 8.3, "mean_drop": 2.1}, "replicate_b": b,
           "per_source": [{"source": "sartaj", "view": "plain", "sensitivity_mix": 0.989, "sensitivity_b": 0.948,
                           "specificity_mix": 0.409, "specificity_b": 0.591, "auc_mix": 0.947, "auc_b": 0.853}],
           "floors": []}
    md = batch44.results47_markdown(res)
    assert "| mixnm4: he_bo seeds 1, 2 + he_bo_nm seeds 1, 2 | 84.7% | 8.3 points | 2.1 points |" in md
    assert "| Sartaj | plain | 98.9% | 94.8% | 40.9% | 59.1% | 0.947 | 0.853 |" in md
    assert batch44.summary_line47(res).startswith("Batch 47 (he_bo and he_bo_nm merged")
    assert batch44.summary_line47({"decision": "not measured yet"}) is None


def _paired(key: str, name: str, br: tuple, sa: tuple, merged: float) -> dict:
    """Results of a recipe read against he_bo (batches 48, 49): `br`/`sa` are its (sensitivity, specificity)."""
    return {"decision": f"merge of seeds 1 and 2: {name} ... {name} does not qualify: he_bo stays",
            key: {"merged": {"primary": merged, "drop": 3.0, "mean_drop": 1.0}, "per_seed": {"1": 0.86, "2": 0.85}},
            "bo": {"merged": {"primary": 0.867, "drop": 3.3, "mean_drop": 2.1}, "per_seed": {"1": 0.84, "2": 0.85}},
            "per_source": [{"source": "br35h", "view": "plain", f"sensitivity_{key}": br[0], "sensitivity_bo": 0.679,
                            f"specificity_{key}": br[1], "specificity_bo": 0.866},
                           {"source": "sartaj", "view": "plain", f"sensitivity_{key}": sa[0], "sensitivity_bo": 0.962,
                            f"specificity_{key}": sa[1], "specificity_bo": 0.544}], "loco": [], "floors_merged": {}}


def test_mixup_results_print_both_merges_and_the_plane_table():
    res = {**_paired("mix", "he_bo_mix", (0.7, 0.9), (0.95, 0.6), 0.85),
           "by_plane": [{"source": "sartaj", "truth": "healthy", "plane": "sagittal", "n": 101, "called_mix": 0.5,
                         "called_bo": 0.792}]}
    md = batch44.results48_markdown(res)
    assert "| he_bo + mixup across collections | 85.0% | 3.0 points | 1.0 points | 86.0% | 85.0% |" in md
    assert "| Br35H | plain | 70.0% | 67.9% | 90.0% | 86.6% |" in md
    assert "| Sartaj | healthy | sagittal | 101 | 50.0% | 79.2% |" in md
    line = batch44.summary_line48(res)
    assert "Br35H sensitivity 70.0% with mixup, 67.9% without; Sartaj specificity 60.0% against 54.4%" in line
    assert batch44.summary_line48({"decision": "batch 48's views are not measured: no decision"}) is None


def test_domain_adversary_results_read_as_batch_48():
    res = _paired("dann", "he_bo_dann", (0.75, 0.8), (0.95, 0.5), 0.88)
    md = batch44.results49_markdown(res)
    assert md.startswith("# Batch 49") and "| he_bo + a class-conditional domain adversary | 88.0% |" in md
    line = batch44.summary_line49(res)
    assert "Br35H sensitivity 75.0% with the adversary, 67.9% without; Sartaj specificity 50.0% against 54.4%" in line
    assert batch44.summary_line49(None) is None and inet.B49.recipe == "he_bo_dann"
    assert inet.B49.views.parent.name == "batch49_domain_adversary"


def test_domain_adversary_results_table_the_loss_against_chance():
    res = {**_paired("dann", "he_bo_dann", (0.75, 0.8), (0.95, 0.5), 0.88),
           "adversary": [{"run": "r", "seed": 1, "fold": "br35h+ixi-t2+dwi", "train_loss": 0.8586,
                          "train_chance": 0.8774, "val_loss": 0.889, "val_chance": 0.9695}]}
    md = batch44.results49_markdown(res)
    assert "| 1 | br35h+ixi-t2+dwi | 0.859 | 0.877 | 0.889 | 0.970 |" in md


def test_adversary_rows_read_the_last_epoch_and_the_folds_chance(tmp_path):
    import json

    import pandas as pd

    from helpers.data import union_split
    from helpers.modeling import domain_adversary

    p = tmp_path / "he_bo_dann_e40_s1__br35h+ixi-t2+dwi.json"
    p.write_text(json.dumps({"config": {"seed": 1, "fold": "br35h+ixi-t2+dwi"},
                             "history": {"domain_loss": [1.1, 0.86], "val_domain_loss": [1.0, 0.89]}}))
    rows = inet.adversary_rows([p, tmp_path / "missing.json"])
    tr, va, _ = union_split.fold_rows(pd.read_csv(union_split.UNION_SPLIT), "br35h+ixi-t2+dwi")
    assert len(rows) == 1 and rows[0]["train_loss"] == 0.86 and rows[0]["val_loss"] == 0.89
    assert rows[0]["train_chance"] == round(domain_adversary.chance_loss(tr), 4)
    assert not (tr["source"].isin(["br35h", "ixi-t2", "dwi"])).any()


@pytest.mark.parametrize("batch", [inet.B48, inet.B49], ids=["48", "49"])
def test_paired_results_are_what_the_committed_views_give(batch, same_results):
    saved = batch.results()
    if saved is None or not batch.views.is_file():
        pytest.skip(f"batch {batch.number} is not measured yet")
    keys = ("decision", "qualifies", batch.key, "bo", "per_source", "by_plane", "adversary")
    same_results(saved, batch.compute(), keys)
