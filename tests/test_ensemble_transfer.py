"""Batch 11 (issue 21): recipe ensembles of LOCO models and a threshold shift chosen nested over held-out folds.
Fabricated runs whose right answers are known; the real records are read by `brain-mri transfer`."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.evaluation import ensemble_transfer as et
from helpers.evaluation import healthy_variety as hv

FOLDS = ("br35h+ixi-t2+dwi", "sartaj+ms-flair-iran+niivue", "figshare+open-ms")


def _run(recipe, seed, fold, t, tumour_p, healthy_p):
    """A run whose held-out tumour slices all have P(tumour) tumour_p and healthy ones healthy_p."""
    rows = []
    for src in et.hv.union_split.fold_sources(fold):
        for lab, p in (("tumour", tumour_p), ("notumor", healthy_p)):
            if src in ("ixi-t2", "dwi", "ms-flair-iran", "niivue", "open-ms") and lab == "tumour":
                continue
            if src == "figshare" and lab == "notumor":
                continue
            rows += [{"source": src, "label": lab, "p_tumour": p, "p_tumour_brain_only": p}] * 2
    return {"pred": pd.DataFrame(rows), "config": {"recipe": recipe, "seed": seed, "fold": fold},
            "operating_point": {"threshold": t}}


def test_shifted_threshold_moves_in_logits():
    assert et.shifted(0.5, 0.0) == pytest.approx(0.5)
    assert et.shifted(0.5, np.log(3)) == pytest.approx(0.75)
    assert et.shifted(0.68, -1.0) < 0.68 < et.shifted(0.68, 0.5)


def _scores(pairs):
    rows = []
    for recipe, seed, v in pairs:
        for k in range(hv.N_NUMBERS):
            rows.append({"recipe": recipe, "seed": seed, "fold": "f", "source": f"s{k}", "view": "plain", "score": v})
    return et.primary_scores(pd.DataFrame(rows))


def test_an_ensemble_needs_two_points_and_two_seeds():
    ch, note = et.decide(_scores([("he_sym", 42, .80), ("he_sym", 7, .80), ("ens_he2", 42, .81), ("ens_he2", 7, .81)]))
    assert ch == "he_sym" and "below" in note
    ch, _ = et.decide(_scores([("he_sym", 42, .80), ("he_sym", 7, .80), ("ens_he2", 42, .83), ("ens_he2", 7, .83)]))
    assert ch == "ens_he2"
    ch, _ = et.decide(_scores([("he_sym", 42, .80), ("he_sym", 7, .80), ("ens_he2", 42, .90)]))  # one seed only
    assert ch == "he_sym"


def test_three_members_must_beat_two_by_a_point():
    base = [("he_sym", 42, .80), ("he_sym", 7, .80), ("ens_he2", 42, .83), ("ens_he2", 7, .83)]
    assert et.decide(_scores(base + [("ens_he3", 42, .835), ("ens_he3", 7, .835)]))[0] == "ens_he2"
    assert et.decide(_scores(base + [("ens_he3", 42, .845), ("ens_he3", 7, .845)]))[0] == "ens_he3"


def test_nested_shift_is_chosen_on_the_other_folds():
    # every fold: tumours at 0.3, healthy at 0.1, threshold 0.5 -> all tumours missed at d = 0; lowering the
    # threshold (d <= -1: 0.27) finds them and keeps the healthy ones, so each fold's nested d is negative
    runs = [_run("he_sym", s, f, 0.5, 0.3, 0.1) for s in (42, 7) for f in FOLDS]
    res = et.shift_analysis(runs, "he_sym")
    assert all(d < 0 for d in res["chosen_per_fold"].values())
    assert res["nested_primary"] == pytest.approx(1.0) and res["primary_at_0"] < res["nested_primary"]
    assert res["adopted"] and res["shipped_shift"] == -1.0  # ties go to the shift nearest 0


def test_a_shift_that_only_one_fold_wants_is_not_trusted_there():
    # folds 1 and 2 are perfect at d = 0; fold 3's tumours sit just under the threshold: chosen on folds 1-2,
    # its nested d is 0 and its misses count
    runs = [_run("he_sym", s, f, 0.5, 0.9, 0.1) for s in (42, 7) for f in FOLDS[:2]]
    runs += [_run("he_sym", s, FOLDS[2], 0.5, 0.45, 0.1) for s in (42, 7)]
    res = et.shift_analysis(runs, "he_sym")
    assert res["chosen_per_fold"][FOLDS[2]] == 0.0
    assert res["nested_primary"] == pytest.approx(res["primary_at_0"]) and not res["adopted"]
    assert et.estimate_rows(runs, "he_sym", res)["shift"].eq(0.0).all()


# ------------------------------------------------------------------ the committed results
def _same(a, b):
    import json

    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _rederived(saved, compute, where: str, keys):
    """`compute()` gives the committed results file `saved` again on `keys` (the file must exist)."""
    if saved is None:
        pytest.fail(f"{where} is committed: it must be found")
    again = compute()
    for key in keys:
        assert _same(saved[key], again[key]), key
    return again


def test_batch11_results_are_what_the_records_give():
    from helpers.reporting import batch11

    saved = batch11.results()
    _rederived(saved, lambda: batch11.compute(with_models=False), "experiments/batch11_ensemble_transfer/results.json",
               ("choice", "decision", "scores", "shift", "floors_loco", "shipped"))


def test_batch12_results_name_the_model_that_ships():
    from helpers import config
    from helpers.reporting import batch12

    saved = batch12.results()
    _rederived(saved, lambda: batch12.compute(with_models=False), "experiments/batch12_procedural_lesions/results.json",
               ("choice", "decision", "scores", "floors_loco", "shipped"))
    from helpers.reporting import shipped

    # README, CLI and dashboard name what the last batch that chose a model chose (batch 20, 19 or 15)
    assert config.DEFAULT_MODEL_NAME == (shipped.shipped_model() or saved["shipped"])


def test_batch13_results_are_what_the_records_give():
    from helpers.reporting import batch12

    saved = batch12.results13()
    _rederived(saved, lambda: batch12.compute13(), "experiments/batch13_ensemble_proc/results.json",
               ("choice", "decision", "scores"))


def test_batch14_results_are_what_the_records_give():
    from helpers.reporting import batch12

    saved = batch12.results14()
    _rederived(saved, lambda: batch12.compute14(), "experiments/batch14_spots/results.json",
               ("choice", "decision", "scores"))


def test_a_candidate_needs_two_points_and_the_higher_wins():
    pairs = [("ens_he2", 42, .80), ("ens_he2", 7, .80), ("a", 42, .83), ("a", 7, .83), ("b", 42, .85), ("b", 7, .85)]
    rows = []
    for recipe, seed, v in pairs:
        for src in ("br35h", "sartaj", "figshare", "ixi-t2", "open-ms", "niivue", "ms-flair-iran", "dwi"):
            for view in ("plain", "brain-only"):
                rows.append({"recipe": recipe, "seed": seed, "source": src, "view": view, "score": v})
    lo = pd.DataFrame(rows)
    import unittest.mock as um

    with um.patch.object(et, "loco", lambda runs, shift=0.0: lo):
        assert et.decide_candidates([], "ens_he2", ("a", "b"))[0] == "b"
        assert et.decide_candidates([], "ens_he2", ("a",))[0] == "a"
    lo.loc[lo["recipe"] == "a", "score"] = 0.81
    with um.patch.object(et, "loco", lambda runs, shift=0.0: lo):
        ch, note = et.decide_candidates([], "ens_he2", ("a",))
        assert ch == "ens_he2" and "below" in note


def test_a_lower_cap_keeps_only_quieter_warnings():
    from helpers.evaluation import healthy_variety as hv

    rows = pd.DataFrame([{"seed": s, "quantile": q, "margin": m, "missed": 10, "missed_flagged": f,
                          "errors": 10, "errors_flagged": f}
                         for s in (42, 7) for q, m, f in ((0.99, 1.5, 8), (0.99, 1.0, 5), (0.97, 0.0, 2))])
    val = {"0.99|1.5": 0.045, "0.99|1.0": 0.033, "0.97|0.0": 0.01}
    assert hv.choose_warning(rows, val)["margin"] == 1.5  # the loudest under 5%
    c = hv.choose_warning(rows, val, cap=0.04)
    assert (c["quantile"], c["margin"]) == (0.99, 1.0)
    assert hv.choose_warning(rows, val, cap=0.005) is None


def test_batch16_results_are_what_batch11_measured_and_the_ensemble_carries_them():
    from helpers import config, records
    from helpers.evaluation import warning_rule

    saved = warning_rule.results16()
    _rederived(saved, lambda: warning_rule.compute16(), "experiments/batch16_warning_headroom/results.json",
               ("choice", "cap_val", "model", "previous"))
    q, m = saved["choice"]["quantile"], saved["choice"]["margin"]
    rule = records.read_json(config.MODELS_DIR / saved["model"] / "familiarity.json")
    rec = records.read(config.MODELS_DIR, saved["model"])
    assert rule["warn_quantile"] == q and rec["operating_point"]["uncertain_margin"] == m


def _scores15(rows):
    return pd.DataFrame([{"recipe": r, "primary": sum(p.values()) / len(p), "seeds": sorted(p),
                          "per_seed": p, "complete": True} for r, p in rows.items()])


def test_batch15_reads_two_points_either_way_and_falls_back_to_seed_42():
    base = {42: 0.79, 7: 0.85}
    for e20, outcome in (({42: 0.77, 7: 0.83}, "hurts"), ({42: 0.80, 7: 0.86}, "indistinguishable"),
                         ({42: 0.81, 7: 0.87}, "helps")):
        assert et.decide15(_scores15({"ens_he2": base, "ens_he2_e20": e20}))[0] == outcome
    sc = _scores15({"ens_he2": base, "ens_he2_e20": {42: 0.76}})  # seed 7 not run: seed 42 against seed 42
    out, basis, _ = et.decide15(sc)
    assert (out, basis.startswith("seed 42")) == ("hurts", True)
    assert et.decide15(_scores15({"ens_he2": base}))[0] == "none"


def test_batch15_amendment_2_needs_two_seeds_and_two_points_for_the_single_model():
    both = {42: 0.80, 7: 0.81}
    assert et.decide_single15(_scores15({"ens_he2_e20": both, "he_sym_e20": {42: 0.83, 7: 0.83}}))[0] == \
        et.SINGLE_MODEL
    assert et.decide_single15(_scores15({"ens_he2_e20": both, "he_sym_e20": {42: 0.82, 7: 0.82}}))[0] == \
        et.ENSEMBLE_MODEL
    assert et.decide_single15(_scores15({"ens_he2_e20": both, "he_sym_e20": {42: 0.90}}))[0] == et.ENSEMBLE_MODEL


def test_batch15_results_are_what_the_records_give_and_the_shipped_model_carries_its_warning():
    from helpers import config, records
    from helpers.evaluation import warning_rule
    from helpers.reporting import batch15

    saved = batch15.results15()
    again = _rederived(saved, lambda: batch15.compute15(with_models=False), "experiments/batch15_schedule/results.json",
                       ("outcome", "decision", "scores", "shipped", "single_vs_ensemble", "floors_loco_e20_single"))
    c = saved["warning"]["choice"]
    assert _same(c, again["warning"]["choice"])
    assert warning_rule.current(name=saved["shipped"])[0] == (c["quantile"], c["margin"])
    rule = records.read_json(config.MODELS_DIR / saved["shipped"] / "familiarity.json")
    rec = records.read(config.MODELS_DIR, saved["shipped"])
    assert rule["warn_quantile"] == c["quantile"] and rec["operating_point"]["uncertain_margin"] == c["margin"]


def test_the_floor_table_reads_what_ships():
    from helpers import config
    from helpers.reporting import batch15

    items = batch15.scoreboard()
    if not items:
        pytest.fail("the batch results are committed: the floor table must have rows")
    assert all(f["met"] in (True, False, None) for f in items)
    shipped_parts = {f["part"] for f in items if f["part"].startswith("shipped")}
    assert shipped_parts == {f"shipped `{config.DEFAULT_MODEL_NAME}`, union test groups"}
    loco_part = next(f["part"] for f in items if f["part"].startswith("LOCO"))
    from helpers.reporting import shipped

    batch, res = shipped.decision()
    recipe = (res.get("block") or {}).get("choice") or ("he_sym" if batch == 15 else "ens_he2")
    assert f"({recipe}," in loco_part.replace("_e20", "")  # its own estimate (batch 15's part names no schedule)


def test_batch18_needs_both_seeds_and_two_points():
    base = {"he_sym_e20": {42: 0.83, 7: 0.84}}
    assert et.decide18(_scores15({**base, "he_bo_e20": {42: 0.86, 7: 0.86}}))[0] == "he_bo"
    assert et.decide18(_scores15({**base, "he_bo_e20": {42: 0.85, 7: 0.85}}))[0] == "he_sym"
    assert et.decide18(_scores15({**base, "he_bo_e20": {42: 0.95}}))[0] == "he_sym"


def test_an_earlier_batch_never_undoes_a_later_warning_choice(tmp_path, monkeypatch):
    import shutil

    from helpers import config, records
    from helpers.evaluation import warning_rule

    name = config.DEFAULT_MODEL_NAME
    for f in ("familiarity.json", "record.json", "union_predictions.csv"):
        (tmp_path / name).mkdir(exist_ok=True)
        shutil.copy(config.MODELS_DIR / name / f, tmp_path / name / f)
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path)
    (q, m), page = warning_rule.current(name)
    batch = int(records.read_json(tmp_path / name / "familiarity.json")["warn_batch"])
    assert not warning_rule.apply(name, 0.90, 0.0, batch=batch - 1)  # an earlier batch's verb run again
    assert warning_rule.current(name) == ((q, m), page)
    monkeypatch.setitem(warning_rule.CHOSEN_BY, batch + 1, warning_rule.CHOSEN_BY[batch])  # a batch registers
    assert warning_rule.apply(name, 0.90, 0.0, batch=batch + 1)  # a later batch may choose again
    assert warning_rule.current(name)[0] == (0.90, 0.0)


def test_loco_ensemble_members_are_parsed_or_refused_in_one_line(tmp_path):
    from helpers.modeling import loco_ensemble as le

    (tmp_path / "b20").mkdir()
    got = le.parse_members([f"he_bo_e40={tmp_path / 'b20'}", f"he_bo_e40{le.MIRROR}={tmp_path / 'b20'}"])
    assert list(got) == ["he_bo_e40", "he_bo_e40~mirror"]
    for bad, msg in ((["he_bo_e40"], "expected RECIPE=FOLDER"), ([f"a={tmp_path / 'none'}"], "no folder"),
                     ([f"a={tmp_path / 'b20'}", f"a={tmp_path / 'b20'}"], "given twice"),
                     ([f"a={tmp_path / 'b20'}"], "at least two members"),
                     ([f"a@x={tmp_path / 'b20'}", f"a@7={tmp_path / 'b20'}"], "whole-number seed")):
        with pytest.raises(ValueError, match=msg):
            le.parse_members(bad)
    # a seed ensemble (batch 24): each member names its own seed's run, whatever seed is scored
    got = le.parse_members([f"he_bo_e40@42={tmp_path / 'b20'}", f"he_bo_e40@7={tmp_path / 'b20'}"])
    assert [le.member_key(k, 1) for k in got] == [("he_bo_e40", 42, False), ("he_bo_e40", 7, False)]
    assert le.member_key("he_bo_e40~mirror", 7) == ("he_bo_e40", 7, True)
    assert le.run_name("he_bo_e40", "f", 7) == "he_bo_e40_s7__f" and le.run_name("he_bo_e40", "f", 42) == "he_bo_e40__f"
