"""Batches 19 and 20: the decision rules on made-up scores, and the committed results re-derived from the records."""

import pandas as pd
import pytest

from helpers.evaluation import shipped_schedule as ss


def _scores(rows):
    return pd.DataFrame([{"recipe": r, "primary": sum(p.values()) / len(p), "seeds": sorted(p), "per_seed": p,
                          "complete": True} for r, p in rows.items()])


def _loco(drops: dict[str, float]):
    """LOCO rows whose plain sensitivity is 0.9 and brain-only 0.9 - drop on every tumour source."""
    return pd.DataFrame([{"recipe": r, "seed": 42, "source": s, "view": v,
                          "sensitivity": 0.9 - (d / 100 if v == "brain-only" else 0)}
                         for r, d in drops.items() for s in ss.TUMOUR_SOURCES for v in ("plain", "brain-only")])


def test_batch19_two_points_either_way_else_validation():
    sym = {42: 0.81, 7: 0.83}
    assert ss.decide19(_scores({"he_sym_e40": sym, "ens_he2_e40": {42: 0.84, 7: 0.84}}))[0] == "ens_he2_e40"
    assert ss.decide19(_scores({"he_sym_e40": sym, "ens_he2_e40": {42: 0.79, 7: 0.80}}))[0] == "he_sym_e40"
    near = _scores({"he_sym_e40": sym, "ens_he2_e40": {42: 0.82, 7: 0.83}})
    assert ss.decide19(near, {"he_sym_e40": 0.95, "ens_he2_e40": 0.96})[0] == "ens_he2_e40"
    assert ss.decide19(near, {"he_sym_e40": 0.96, "ens_he2_e40": 0.95})[0] == "he_sym_e40"
    assert ss.decide19(_scores({"he_sym_e40": sym, "ens_he2_e40": {42: 0.9}}))[0] is None  # one seed: no decision
    # within 2 points and a union validation score missing: no decision, said in words (not a format error)
    pick, note = ss.decide19(near, {"he_sym_e40": 0.95, "ens_he2_e40": None})
    assert pick is None and "no decision" in note


def test_brain_only_drop_needs_every_tumour_source():
    lo = _loco({"a": 10.0})
    assert ss.brain_only_drop(lo, "a") == pytest.approx(10.0)
    assert ss.brain_only_drop(lo[lo["source"] != "figshare"], "a") is None


def test_batch20_superiority_then_non_inferiority_with_a_smaller_drop():
    inc = {"he_sym_e40": {42: 0.83, 7: 0.83}}
    lo = _loco({"he_sym_e40": 16.0, "he_bo_e40": 4.0, "ens_hb_e40": 9.0})
    # rule 1: >= 2 points wins outright, whatever the drop
    win, _, note = ss.decide20(_scores({**inc, "ens_hb_e40": {42: 0.86, 7: 0.85}, "he_bo_e40": {42: 0.82, 7: 0.82}}),
                               lo, "he_sym_e40")
    assert win == "ens_hb_e40" and "Rule 1" in note
    # rule 2: at most 1 point below and >= 5 points smaller drop; of two, the smaller drop
    win, rows, note = ss.decide20(_scores({**inc, "ens_hb_e40": {42: 0.83, 7: 0.84}, "he_bo_e40": {42: 0.82, 7: 0.825}}),
                                  lo, "he_sym_e40")
    assert win == "he_bo_e40" and "Rule 2" in note and len(rows) == 2
    # 1.5 points below: not non-inferior, even with the smaller drop
    win, _, _ = ss.decide20(_scores({**inc, "he_bo_e40": {42: 0.815, 7: 0.815}}), lo, "he_sym_e40")
    assert win == "he_sym_e40"
    # a drop only 3 points smaller does not qualify
    win, _, _ = ss.decide20(_scores({**inc, "he_bo_e40": {42: 0.83, 7: 0.83}}),
                            _loco({"he_sym_e40": 16.0, "he_bo_e40": 13.0}), "he_sym_e40")
    assert win == "he_sym_e40"
    # one seed only: takes no part
    win, rows, _ = ss.decide20(_scores({**inc, "he_bo_e40": {42: 0.95}}), lo, "he_sym_e40")
    assert win == "he_sym_e40" and {r["recipe"]: r["complete"] for r in rows}["he_bo_e40"] is False


def test_batch20_says_n_a_for_a_missing_brain_only_drop():
    inc = {"he_sym_e40": {42: 0.83, 7: 0.83}}
    lo = _loco({"he_sym_e40": 16.0, "he_bo_e40": 4.0})
    lo = lo[~((lo["recipe"] == "he_bo_e40") & (lo["source"] == "figshare"))]
    win, _, note = ss.decide20(_scores({**inc, "he_bo_e40": {42: 0.83, 7: 0.83}}), lo, "he_sym_e40")
    assert win == "he_sym_e40" and "brain-only drop n/a" in note


def test_batch21_gains_per_candidate_each_seed_for_the_mirror_and_a_bounded_drop():
    inc = {"he_bo_e40": {42: 0.87, 7: 0.837}}
    lo = _loco({"he_bo_e40": 2.0, "he_bo_ms_e40": 4.0, "he_bo_flip_e40": 2.5})
    # the mirror: +1 point on the mean and above on each seed qualifies; MixStyle needs 2 points
    win, rows, note = ss.decide21(_scores({**inc, "he_bo_flip_e40": {42: 0.88, 7: 0.848},
                                           "he_bo_ms_e40": {42: 0.88, 7: 0.85}}), lo)
    assert win == "he_bo_flip_e40" and {r["recipe"]: r["qualifies"] for r in rows} == {
        "he_bo_ms_e40": False, "he_bo_flip_e40": True}
    # +1.5 points on the mean but below on seed 7: the mirror does not qualify
    win, _, _ = ss.decide21(_scores({**inc, "he_bo_flip_e40": {42: 0.91, 7: 0.83}}), lo)
    assert win == "he_bo_e40"
    # MixStyle at +2.5 points ships over the mirror at +1.5 (the higher primary score)...
    win, _, _ = ss.decide21(_scores({**inc, "he_bo_flip_e40": {42: 0.885, 7: 0.852},
                                     "he_bo_ms_e40": {42: 0.895, 7: 0.862}}), lo)
    assert win == "he_bo_ms_e40"
    # ... but not with a brain-only drop more than 3 points larger than the incumbent's
    win, _, _ = ss.decide21(_scores({**inc, "he_bo_ms_e40": {42: 0.895, 7: 0.862}}),
                            _loco({"he_bo_e40": 2.0, "he_bo_ms_e40": 5.5}))
    assert win == "he_bo_e40"
    # seed 7 missing: no decision for it
    win, rows, note = ss.decide21(_scores({**inc, "he_bo_ms_e40": {42: 0.95}}), lo)
    assert win == "he_bo_e40" and "no decision for it" in note


@pytest.mark.parametrize("batch", [19, 20])
def test_batch_results_are_what_the_records_give(batch, same_results):
    from helpers.reporting import batch19

    saved = batch19.results19() if batch == 19 else batch19.results20()
    if saved is None:
        pytest.fail(f"batch {batch}'s results.json is committed: it must be found")
    again = batch19.compute19() if batch == 19 else batch19.compute20(with_models=False)
    same_results(saved, again, ("choice", "decision", "scores", "shipped"))


def test_the_shipped_model_carries_what_the_dashboard_quotes():
    """Shipping a model is more than training it: the dashboard's track-record line needs its leak-free evaluation
    (`brain-mri evaluate`), the viewer kernels its ONNX export, and the warning the batch chose must be in its files."""
    from helpers import config, records
    from helpers.app.registry import call_track_record
    from helpers.evaluation import warning_rule
    from helpers.reporting import shipped

    rec = records.read(config.MODELS_DIR, config.DEFAULT_MODEL_NAME)
    assert rec, "the shipped model's record is committed"
    assert call_track_record(rec, True) and call_track_record(rec, False)
    assert (config.MODELS_DIR / config.DEFAULT_MODEL_NAME / "model.onnx").is_file() and rec.get("onnx_sha256")
    batch, res = shipped.decision()
    # the warning the model carries is the latest choice for it: the deciding batch's, or a later warning batch's
    later = warning_rule.chosen_by(config.DEFAULT_MODEL_NAME) > batch
    c = (warning_rule.choice_of(config.DEFAULT_MODEL_NAME) if later else None) or (
        (res.get("warning") or {}).get("choice") or warning_rule.choice_of(config.DEFAULT_MODEL_NAME))
    assert warning_rule.current(config.DEFAULT_MODEL_NAME)[0] == (c["quantile"], c["margin"])
    assert shipped.card_block()["warning"]["quantile"] == c["quantile"]


def test_batch23_two_points_and_a_bounded_drop_against_batch_21s_choice():
    inc = {"he_bo_e40": {42: 0.87, 7: 0.837}}
    lo = _loco({"he_bo_e40": 2.0, "he_bo_w24_e40": 4.0})
    assert ss.decide23(_scores({**inc, "he_bo_w24_e40": {42: 0.89, 7: 0.86}}), lo, "he_bo_e40")[0] == "he_bo_w24_e40"
    assert ss.decide23(_scores({**inc, "he_bo_w24_e40": {42: 0.88, 7: 0.85}}), lo, "he_bo_e40")[0] == "he_bo_e40"
    far = _loco({"he_bo_e40": 2.0, "he_bo_w24_e40": 6.0})
    assert ss.decide23(_scores({**inc, "he_bo_w24_e40": {42: 0.95, 7: 0.95}}), far, "he_bo_e40")[0] == "he_bo_e40"
    win, row, note = ss.decide23(_scores({**inc, "he_bo_w24_e40": {42: 0.95}}), lo, "he_bo_e40")
    assert win == "he_bo_e40" and row["complete"] is False and "no decision" in note


def test_batch24_seed_ensemble_one_point_each_replicate_above_its_members_and_a_bounded_drop():
    inc = {"he_bo_e40": {42: 0.87, 7: 0.837, 1: 0.85, 2: 0.85}}  # four seeds: 85.175%
    lo = _loco({"he_bo_e40": 2.0, "ens_bo2s_e40": 4.0})
    win, row, note = ss.decide24(_scores({**inc, "ens_bo2s_e40": {42: 0.865, 1: 0.86}}), lo)
    assert win == "ens_bo2s_e40" and row["qualifies"] and "qualifies: it ships" in note
    assert row["replicates"]["42"]["members_mean"] == pytest.approx(0.8535)
    # >= 1 point on the mean, but replicate 1 below the mean of seeds 1 and 2: stays
    win, row, _ = ss.decide24(_scores({**inc, "ens_bo2s_e40": {42: 0.885, 1: 0.845}}), lo)
    assert win == "he_bo_e40" and not row["above_each_replicate"]
    # each replicate above its members, but less than 1 point on the mean: stays
    assert ss.decide24(_scores({**inc, "ens_bo2s_e40": {42: 0.86, 1: 0.855}}), lo)[0] == "he_bo_e40"
    # a brain-only drop more than 3 points larger: stays
    far = _loco({"he_bo_e40": 2.0, "ens_bo2s_e40": 5.5})
    assert ss.decide24(_scores({**inc, "ens_bo2s_e40": {42: 0.9, 1: 0.9}}), far)[0] == "he_bo_e40"
    # a seed of the incumbent or a replicate missing: no decision, said in words
    win, _, note = ss.decide24(_scores({"he_bo_e40": {42: 0.87, 7: 0.837}, "ens_bo2s_e40": {42: 0.9, 1: 0.9}}), lo)
    assert win is None and "no decision" in note
    win, row, note = ss.decide24(_scores({**inc, "ens_bo2s_e40": {42: 0.9}}), lo)
    assert win is None and row["complete"] is False and "no decision" in note


def test_batch27_two_points_and_a_bounded_drop_against_he_bo():
    inc = {"he_bo_e40": {42: 0.87, 7: 0.837}}
    lo = _loco({"he_bo_e40": 2.0, "he_bo_pb_e40": 4.0})
    assert ss.decide27(_scores({**inc, "he_bo_pb_e40": {42: 0.89, 7: 0.86}}), lo)[0] == "he_bo_pb_e40"
    assert ss.decide27(_scores({**inc, "he_bo_pb_e40": {42: 0.88, 7: 0.85}}), lo)[0] == "he_bo_e40"
    win, row, note = ss.decide27(_scores({**inc, "he_bo_pb_e40": {42: 0.95}}), lo)
    assert win == "he_bo_e40" and row["complete"] is False and "no decision" in note


def test_plane_rates_count_held_out_rows_by_plane_at_the_runs_threshold(tmp_path, monkeypatch):
    from helpers.data import union_split

    planes = tmp_path / "union_planes.csv"
    pd.DataFrame({"collection": ["br35h"] * 4 + ["brain-tumor-mri"], "path": list("abcde"),
                  "plane": ["axial", "axial", "sagittal", "sagittal", "axial"], "how": "tagger"}).to_csv(planes,
                                                                                               index=False)
    monkeypatch.setattr(union_split, "UNION_PLANES", planes)
    pred = pd.DataFrame({"collection": ["br35h"] * 4 + ["brain-tumor-mri"], "path": list("abcde"),
                         "source": ["br35h"] * 4 + ["figshare"], "label": ["glioma", "notumor", "notumor", "tumour",
                                                                           "glioma"],
                         "p_tumour": [0.9, 0.6, 0.2, 0.4, 0.9]})
    run = {"config": {"recipe": "r", "seed": 42, "fold": "br35h"}, "operating_point": {"threshold": 0.5}, "pred": pred}
    t = ss.plane_rates([run]).set_index("plane")
    assert t.loc["axial", ["healthy", "healthy_called", "tumours", "tumours_found"]].tolist() == [1, 1, 1, 1]
    assert t.loc["sagittal", ["healthy", "healthy_called", "tumours", "tumours_found"]].tolist() == [1, 0, 1, 0]
    assert t.loc["coronal", "healthy"] == 0  # figshare's row is not held out in this fold


def test_batch28_four_members_one_point_above_the_two_seed_ensemble_and_its_bars():
    inc = {"ens_bo2s_e40": {42: 0.868, 1: 0.854}}  # 86.1%
    lo = _loco({"ens_bo2s_e40": 2.5, "ens_bo4s_e40": 3.0, "ens_mix4_e40": 3.0})
    # four seeds: >= 1 point and above both replicates (86.8%): qualifies
    win, rows, note = ss.decide28(_scores({**inc, "ens_bo4s_e40": {42: 0.872}}), lo)
    assert win == "ens_bo4s_e40" and rows[0]["qualifies"] and "ens_bo4s_e40 ships" in note
    assert rows[1] == {"recipe": "ens_mix4_e40", "complete": False}
    # +1.25 points above the incumbent's mean (85.75%) but below its replicate 42 + 7 (87.5%): does not qualify
    win, rows, _ = ss.decide28(_scores({"ens_bo2s_e40": {42: 0.875, 1: 0.84}, "ens_bo4s_e40": {42: 0.87}}), lo)
    assert win == "ens_bo2s_e40" and not rows[0]["above_bar"] and not rows[0]["qualifies"]
    # four recipes: mean >= 1 point and each replicate above the incumbent's score
    win, rows, _ = ss.decide28(_scores({**inc, "ens_mix4_e40": {42: 0.88, 7: 0.865}}), lo)
    assert win == "ens_mix4_e40"
    win, rows, _ = ss.decide28(_scores({**inc, "ens_mix4_e40": {42: 0.90, 7: 0.86}}), lo)  # seed 7 below 86.1%
    assert win == "ens_bo2s_e40" and not rows[1]["above_bar"]
    # both qualify: the higher, but four seeds within half a point
    both = {**inc, "ens_bo4s_e40": {42: 0.875}, "ens_mix4_e40": {42: 0.885, 7: 0.875}}
    assert ss.decide28(_scores(both), lo)[0] == "ens_bo4s_e40"
    both["ens_mix4_e40"] = {42: 0.89, 7: 0.88}
    assert ss.decide28(_scores(both), lo)[0] == "ens_mix4_e40"
    # a brain-only drop more than 3 points larger: does not qualify
    far = _loco({"ens_bo2s_e40": 2.5, "ens_bo4s_e40": 6.0})
    assert ss.decide28(_scores({**inc, "ens_bo4s_e40": {42: 0.9}}), far)[0] == "ens_bo2s_e40"
    # the incumbent missing a replicate: no decision
    assert ss.decide28(_scores({"ens_bo2s_e40": {42: 0.868}, "ens_bo4s_e40": {42: 0.9}}), lo)[0] is None


def test_where_the_warning_was_tested_comes_from_the_deciding_batchs_block(monkeypatch):
    """The batch that shipped a model writes where its warning was tested into its block; a model replaced since
    keeps its block (shipped.block_of), so its card keeps its numbers."""
    from helpers.reporting import batch28, shipped
    from helpers.evaluation import warning_rule

    choice = {"test_missed": 200, "test_missed_flagged": 40, "test_share": 0.2}
    monkeypatch.setattr(warning_rule, "choice_of", lambda name: choice)
    t = batch28.tested28("ens_bo4s_e40", pd.DataFrame([
        {"recipe": "ens_bo4s_e40", "missed": 30, "missed_flagged": 9, "familiar_n": 100, "familiar_flagged": 3},
        {"recipe": "ens_bo4s_e40", "missed": 10, "missed_flagged": 1, "familiar_n": 100, "familiar_flagged": 1},
        {"recipe": "ens_mix4_e40", "missed": 99, "missed_flagged": 99, "familiar_n": 9, "familiar_flagged": 9}]))
    assert (t["missed"], t["missed_flagged"], t["share"], t["firing"]) == (40, 10, 0.25, 0.02)
    assert "four-seed ensemble's own LOCO runs" in t["on"]
    monkeypatch.setattr(shipped, "block_of", lambda name: {"warning": {"quantile": 0.98, "tested": t}})
    assert shipped.warning_tested("x") == t
    monkeypatch.setattr(shipped, "block_of", lambda name: {"warning": {"quantile": 0.98}})  # no test of its own
    assert shipped.warning_tested("x")["short"] == "seed-7 LOCO runs" and shipped.warning_tested("x")["missed"] == 200
    assert batch28.tested28("ens_bo4s_e40", pd.DataFrame(columns=["recipe"])) is None


def test_a_replaced_model_keeps_the_block_of_the_batch_that_shipped_it():
    from helpers import config
    from helpers.reporting import shipped

    assert shipped.card_block() == shipped.block_of(config.DEFAULT_MODEL_NAME)
    for batch, path in shipped.DECIDERS:  # every model a block-writing batch shipped still finds a block
        from helpers import records

        res = records.read_json(path) or {}
        if batch in shipped.BLOCK_BATCHES and res.get("shipped") and res.get("block"):
            assert shipped.block_of(res["shipped"]).get("union"), res["shipped"]
    assert shipped.block_of("no_such_model") == {}


def test_the_four_seed_ensemble_is_made_of_the_members_batch_28_named():
    from helpers import config, records

    rec = records.read(config.MODELS_DIR, ss.MODEL_OF[ss.ENS4S_E40])
    if rec is None:
        pytest.skip("brain_tumor_hv_bo4 is not built")
    assert rec["config"]["members"] == list(ss.MEMBERS28[ss.ENS4S_E40])
    assert rec["config"]["recipe"] == ss.ENS4S_E40
    seeds = [records.read(config.MODELS_DIR, m)["config"]["seed"] for m in rec["config"]["members"]]
    assert seeds == [42, 7, 1, 2]


def test_batch30_reads_the_seed_curve():
    base = {"he_bo_e40": {42: 0.87, 7: 0.837, 1: 0.832, 2: 0.835, 3: 0.84, 4: 0.83},
            "ens_bo2s_e40": {42: 0.868, 1: 0.854, 3: 0.86}}
    rows, note, done = ss.curve30(_scores({**base, "ens_bo4s_e40": {42: 0.874, 1: 0.871}, "ens_bo6s_e40": {42: 0.876}}))
    assert done and [r["seeds_merged"] for r in rows] == [1, 2, 4, 6]
    assert rows[2]["mean"] == pytest.approx(0.8725)
    assert "batch 28's gain held" in note and "the curve flattens at four" in note
    _, note, _ = ss.curve30(_scores({**base, "ens_bo4s_e40": {42: 0.874, 1: 0.85}, "ens_bo6s_e40": {42: 0.89}}))
    assert "one lucky replicate" in note and "more seeds still pay" in note
    _, note, _ = ss.curve30(_scores({**base, "ens_bo4s_e40": {42: 0.874, 1: 0.862}, "ens_bo6s_e40": {42: 0.87}}))
    assert "held in part" in note
    _, note, done = ss.curve30(_scores({**base, "ens_bo4s_e40": {42: 0.874}}))
    assert not done and "no reading" in note


def test_batch34_one_point_above_on_each_seed_and_a_bounded_drop_reads_worth_a_gpu_session():
    inc = {"he_bo_e40": {42: 0.87, 7: 0.837}}
    lo = _loco({"he_bo_e40": 2.0, "he_bo_swa_e40": 4.0})
    win, row, note = ss.decide34(_scores({**inc, "he_bo_swa_e40": {42: 0.885, 7: 0.845}}), lo)
    assert win == "he_bo_swa_e40" and "worth a GPU session" in note and "ships" not in note.replace("nothing ships", "")
    # a larger mean but below on one seed: paired, so no gain
    win, _, note = ss.decide34(_scores({**inc, "he_bo_swa_e40": {42: 0.92, 7: 0.83}}), lo)
    assert win == "he_bo_e40" and "No gain" in note
    # above on each seed but a brain-only drop more than 3 points larger
    win, _, _ = ss.decide34(_scores({**inc, "he_bo_swa_e40": {42: 0.885, 7: 0.845}}),
                            _loco({"he_bo_e40": 2.0, "he_bo_swa_e40": 5.5}))
    assert win == "he_bo_e40"
