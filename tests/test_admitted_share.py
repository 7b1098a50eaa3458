"""Batch 50: the admitted share of a held-out source (union_split.admitted_rows, fold_rows(admit=)) and its
results (evaluation.admitted_share, reporting.batch50)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import config
from helpers.data import union_split
from helpers.evaluation import admitted_share as adm
from helpers.reporting import batch50


def toy_table() -> pd.DataFrame:
    """20 Br35H groups (10 tumour, 10 healthy, two rows each), 5 figshare groups and 4 IXI T2 groups."""
    rows = []
    for g in range(20):
        lab = "tumour" if g < 10 else config.NO_TUMOUR
        rows += [{"collection": "br35h", "path": f"b{g}_{k}.jpg", "label": lab, "split": "train", "group": g,
                  "source": "br35h", "sources": "br35h"} for k in range(2)]
    rows += [{"collection": "brain-tumor-mri", "path": f"f{g}.jpg", "label": "glioma", "split": "train",
              "group": 100 + g, "source": "figshare", "sources": "figshare"} for g in range(5)]
    rows += [{"collection": "healthy-extra", "path": f"i{g}.jpg", "label": config.NO_TUMOUR, "split": "val",
              "group": 200 + g, "source": "ixi-t2", "sources": "ixi-t2"} for g in range(4)]
    return pd.DataFrame(rows)


def test_admitted_rows_take_a_share_of_the_first_sources_groups_per_label():
    df = toy_table()
    a = union_split.admitted_rows(df, "br35h+ixi-t2", 0.2)
    picked = df[a]
    assert set(picked["source"]) == {"br35h"}  # the fold's first source only, never IXI T2
    assert picked.groupby("label")["group"].nunique().to_dict() == {"notumor": 2, "tumour": 2}
    assert picked.groupby("group").size().eq(2).all()  # whole twin groups
    assert a.equals(union_split.admitted_rows(df, "br35h+ixi-t2", 0.2))  # the same draw every time
    assert not union_split.admitted_rows(df, "br35h", 0.0).any()


def test_fold_rows_moves_the_admitted_rows_from_test_to_training():
    df = toy_table()
    tr0, va0, te0 = union_split.fold_rows(df, "br35h+ixi-t2")
    tr, va, te = union_split.fold_rows(df, "br35h+ixi-t2", admit=0.2)
    moved = df[union_split.admitted_rows(df, "br35h+ixi-t2", 0.2)].index
    assert len(moved) == 8 and set(moved) <= set(te0.index)
    assert set(tr.index) == set(tr0.index) | set(moved) and va.equals(va0)
    assert set(te.index) == set(te0.index) - set(moved)
    assert set(tr0.index) == set(df.index[df["source"] == "figshare"])  # admit=0: the fold as before


def test_run_metrics_and_line_on_made_up_predictions():
    df = toy_table()
    keys = df.loc[union_split.held_out(df, "br35h+ixi-t2"), ["collection", "path"]]
    pred = df.copy()
    pred["p_tumour"] = np.where(pred["label"] == "tumour", 0.9, 0.1)
    pred.loc[pred["path"] == "b0_0.jpg", "p_tumour"] = 0.2  # one missed tumour of 20
    m = adm.run_metrics(pred, keys, 0.5, ("br35h", "ixi-t2", "dwi"), n_boot=20)
    assert m["dwi"] is None  # no DWI row in the toy table
    assert m["n_rows"] == 44 and m["br35h"]["n_tumour"] == 20 and m["br35h"]["sensitivity"] == pytest.approx(0.95)
    assert m["br35h"]["specificity"] == 1.0
    fold = "br35h+ixi-t2+dwi"
    res = {"missing": [], "means": {
        "he_bo": {"br35h": {"sensitivity": 0.6, "specificity": 0.9, "auc": 0.8}},
        "he_bo_adm10": {"br35h": {"sensitivity": 0.75, "specificity": 0.85, "auc": 0.85}}}}
    line = adm.fold_line(res, fold)
    assert "sensitivity 60.0% without, 75.0% with (+15.0 points)" in line and "(-5.0 points)" in line
    assert "0.800 → 0.850" in line and line.startswith("held-out Br35H rows")
    short = {"means": {"he_bo": res["means"]["he_bo"]}, "missing": ["x"]}
    assert adm.fold_line(short, fold) == "Br35H fold incomplete (x missing)"
    assert batch50.summary_line({"folds": {fold: short}, "decision": "d"}) is None  # no complete fold: no line
    assert batch50.summary_line({"folds": {fold: res}, "decision": "d"}).endswith(": d.")


@pytest.mark.slow  # about a minute: 1,000 group-bootstrap draws per source and run, as results.py drew them
@pytest.mark.skipif(not adm.RESULTS.is_file(), reason="batch 50 has no results.json yet")
def test_batch50_results_are_what_the_committed_runs_give(same_results):
    saved = adm.results()
    again = adm.compute()
    same_results(saved, again, ["share", "seeds", "folds", "decision"])
    md = (adm.FOLDER / "RESULTS.md").read_text()
    assert md == batch50.results_markdown(saved) and saved["decision"] in md
