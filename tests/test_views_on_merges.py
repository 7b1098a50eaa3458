"""Batch 37's rule (evaluation.views_on_merges) on hand-made candidate rows, and its merge on synthetic views."""
import pytest

from helpers.evaluation import test_time_views as tv
from helpers.evaluation import views_on_merges as vm

from test_test_time_views import _views


def _rows(**kw):
    return [{"candidate": c, "primary": kw[c][0], "drop": kw[c][1]} for c in ("plain", "flip2", "brain2")]


@pytest.mark.parametrize("rows,want", [
    (_rows(plain=(0.850, 7.0), flip2=(0.840, 7.0), brain2=(0.830, 3.0)), "plain"),  # clear best, drop not read
    (_rows(plain=(0.850, 7.0), flip2=(0.840, 7.0), brain2=(0.853, 3.0)), "brain2"),
    (_rows(plain=(0.850, 3.0), flip2=(0.840, 7.0), brain2=(0.853, 7.0)), "plain"),  # near best, smaller drop wins
    (_rows(plain=(0.850, 3.04), flip2=(0.852, 2.96), brain2=(0.80, 1.0)), "plain"),  # 3.0 vs 3.0: the cheaper view
    (_rows(plain=(0.850, 3.0), flip2=(0.860, 4.0), brain2=(0.8551, 1.0)), "brain2"),  # 0.49 point below the best
    (_rows(plain=(0.850, 3.0), flip2=(0.860, 4.0), brain2=(0.8549, 1.0)), "flip2"),  # 0.51 below: out
])
def test_rule37(rows, want):
    choice, note = vm.decide(rows)
    assert choice == want and want in note


def test_rule37_needs_every_candidate_complete():
    rows = _rows(plain=(0.85, 3.0), flip2=(0.86, 4.0), brain2=(None, None))
    assert vm.decide(rows)[0] is None


def _two_seeds():
    """Seeds 1 and 2 of one fold; rows numbered as union rows are (unique within the fold)."""
    import numpy as np
    import pandas as pd

    frames = [_views(seed=sd, rng_seed=k) for k, sd in enumerate((1, 2))]
    return pd.concat([f.assign(row=np.arange(len(f))) for f in frames], ignore_index=True)


def test_merge37_averages_the_two_seeds_and_reports_singles():
    both = _two_seeds()
    v = tv.merged_views(both)
    assert set(v["seed"]) == {0} and len(v) == len(both) // 2
    one = both[both["seed"] == 1].set_index("row")["x_0"]
    two = both[both["seed"] == 2].set_index("row")["x_0"]
    assert v.set_index("row")["x_0"].sort_index().to_numpy() == pytest.approx(((one + two) / 2).sort_index().to_numpy())
    res = vm.compute(both)
    # two held-out sources only: the merge is incomplete, so the rule takes no decision, yet every run is reported
    assert res["choice"] is None and {r["seed"] for r in res["loco"]} == {1, 2}
    assert {r["recipe"] for r in res["loco_merged"]} == set(tv.CANDIDATES35)
    assert all(r["primary"] is None for r in res["rows"])


def test_runs37_names_what_loco_runs_sh_writes():
    names = [p.name for p in vm.runs37()]
    assert len(names) == 6 and names[0] == "he_bo_e40_s1__br35h+ixi-t2+dwi.json"
    assert all(p.parent == vm.BATCH37 for p in vm.runs37())


def test_batch37_results_are_what_views_csv_gives(same_results):
    """The committed results re-derived from the committed views.csv.gz (no model, no data needed)."""
    saved = vm.results()
    if saved is None:
        pytest.skip("batch 37 is not measured yet (no results.json)")
    views = tv.read_views(vm.VIEWS37)
    assert views is not None, "results.json is committed with the views.csv.gz it comes from"
    from helpers.reporting import batch37

    again = batch37.compute37()
    same_results(saved, again, ("rows", "choice", "decision", "scores", "batch35_merged", "shipped", "ship"))


def test_batch38_results_are_what_views_csv_gives(same_results):
    saved = vm.results38()
    if saved is None:
        pytest.skip("batch 38 is not measured yet (no results.json)")
    again = vm.compute38()
    same_results(saved, again, ("rows", "decision", "floors"))


def test_second_replicate_merges_seeds_1_to_4(monkeypatch):
    """Batch 39: replicate 1 merges seeds 1, 2, 3 and 4 (here seeds 3 and 4 are copies of 1 and 2, so its merge is
    the two-seed merge's), replicate 42 is batch 38's; the floors read both."""
    import numpy as np
    import pandas as pd

    both = _two_seeds()
    rows = both.drop_duplicates(["fold", "set", "row"]).shape[0]
    a = pd.concat([both.assign(seed=both["seed"].map({1: 42, 2: 7})), both], ignore_index=True)
    b = both.assign(seed=both["seed"].map({1: 3, 2: 4}))
    views = {vm.VIEWS37: both, vm.VIEWS39: b, tv.VIEWS35: a[a["seed"].isin([42, 7])]}
    monkeypatch.setattr(tv, "read_views", lambda path=tv.VIEWS35: views[path])
    res = vm.compute39()
    lo = pd.DataFrame(res["loco"])
    assert set(lo["seed"]) == {42, 1} and {r["replicate"] for r in res["rows"]} == {42, 1}
    one = vm.replicate_loco(both, 1)
    assert np.allclose(lo[lo["seed"] == 1].sort_values(["recipe", "source", "view"])["score"],
                       one.sort_values(["recipe", "source", "view"])["score"])
    assert rows == len(tv.merged_views(both))


@pytest.mark.parametrize("batch,keys", [(39, ("rows", "decision", "floors", "shipped")),
                                         (41, ("rows", "fours", "loco_passes", "floors"))])
def test_saved_results_are_what_views_csv_gives(batch, keys, same_results):
    from helpers.reporting import batch37

    saved = getattr(vm, f"results{batch}")()
    if saved is None:
        pytest.skip(f"batch {batch} is not measured yet (no results.json)")
    again = getattr(batch37, f"compute{batch}")()
    same_results(saved, again, keys)


@pytest.mark.parametrize("six,want", [
    ({"primary": 0.885, "drop": 8.0}, True),
    ({"primary": 0.884, "drop": 8.24}, True),   # the bar itself; 8.2 vs 8.2 at the printed precision
    ({"primary": 0.883, "drop": 5.0}, False),   # below the better four
    ({"primary": 0.890, "drop": 8.3}, False),   # a larger drop than either four
    ({"primary": None, "drop": None}, None),
])
def test_rule41(six, want):
    fours = [{"primary": 0.869, "drop": 7.5}, {"primary": 0.884, "drop": 8.2}]
    assert vm.decide41(six, fours)[0] is want
