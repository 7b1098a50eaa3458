"""Batch 44 (experiments/batch44_intensity_net/PLAN.md): `he_bo_gin` (he_bo + GIN, a random shallow network's grey
levels per training slice) against `he_bo`, the same seeds (1 and 2) and folds, paired: batch 37's runs of he_bo.

Both are measured as batches 35 and 37 (test_time_views.measure) and read in the plain view, which is what ships:
each seed's single runs, and the merge of the two seeds (logits averaged per slice, the operating point refitted).
Batch 45 merges the two recipes' seeds (four members) against the shipped recipe's replicate B (batch 39); batch 46
reads `he_bo_nm` (no asymmetry channel) by batch 44's rule (`compute_paired`), with the held-out calls by plane;
batch 47 merges he_bo with he_bo_nm by batch 45's rule (`compute_mixed`); batches 48 (`he_bo_mix`, mixup) and 49
(`he_bo_dann`, a domain adversary) are read as batch 46 (`PairedBatch`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import config, records
from . import healthy_variety as hv
from . import test_time_views as tv
from . import views_on_merges as vm

BATCH44 = config.EXPERIMENTS_DIR / "batch44_intensity_net"
VIEWS44 = BATCH44 / "views.csv.gz"
RESULTS44 = BATCH44 / "results.json"
SEEDS44 = (1, 2)
RECIPE44 = "he_bo_gin_e40"
VIEW44 = "plain"  # the shipped view
GAIN44, DROP_SLACK44 = 0.02, 1.0  # PLAN.md rule 1: 2 points on the merge, each seed above, drop at most 1 point larger


def runs44() -> list:
    return tv.runs(BATCH44, SEEDS44, name=RECIPE44)


def side(views: pd.DataFrame) -> dict:
    """One recipe's numbers in the plain view: the merge's row (primary score, largest and mean drop), each seed's
    single-run primary score, and the LOCO rows of the merge and of the singles."""
    lo_m, rows = vm.merged_scores(views)
    lo = tv.loco(views)
    lo, lo_m = lo[lo["recipe"] == VIEW44], lo_m[lo_m["recipe"] == VIEW44]
    singles = hv.primary_scores(lo)
    per_seed = singles.iloc[0]["per_seed"] if len(singles) else {}
    return {"merged": next(r for r in rows if r["candidate"] == VIEW44), "per_seed": per_seed,
            "complete": bool(len(singles)) and sorted(singles.iloc[0]["seeds"]) == sorted(SEEDS44),
            "loco_merged": lo_m, "loco": lo}


def decide44(new: dict, old: dict, name: str = "he_bo_gin") -> tuple[bool | None, str]:
    """PLAN.md's rule 1 on two `side`s: (qualifies, note); None when a number is missing. Batch 46 reads the same
    rule for its recipe `name`."""
    a, b = new["merged"], old["merged"]
    if not (new["complete"] and old["complete"]) or None in (a["primary"], b["primary"], a["drop"], b["drop"]):
        return None, "a run of either recipe is missing: no decision"
    gain = a["primary"] - b["primary"]
    ok_a = gain >= GAIN44 - 1e-12
    ok_b = all(new["per_seed"][s] > old["per_seed"][s] for s in SEEDS44)
    ok_c = a["drop"] - b["drop"] <= DROP_SLACK44 + 1e-9
    seeds = ", ".join(f"seed {s} {new['per_seed'][s]:.1%} against {old['per_seed'][s]:.1%}" for s in SEEDS44)
    note = (f"merge of seeds 1 and 2: {name} {a['primary']:.1%}, he_bo {b['primary']:.1%} ({gain * 100:+.1f} "
            f"points; {'at least' if ok_a else 'under'} +{GAIN44 * 100:.0f}); single runs: {seeds} "
            f"({'each above' if ok_b else 'not each above'}); largest brain-only drop {a['drop']:.1f} points against "
            f"{b['drop']:.1f} ({'within' if ok_c else 'more than'} {DROP_SLACK44:.0f} point larger)")
    ok = ok_a and ok_b and ok_c
    return ok, note + (f". {name} qualifies" if ok else f". {name} does not qualify: he_bo stays")


def per_source(new: dict, old: dict, key: str = "gin") -> pd.DataFrame:
    """Sensitivity, specificity and ROC-AUC per held-out source and view, both merges side by side."""
    cols = ["source", "view", "sensitivity", "specificity", "score", "auc"]
    a, b = new["loco_merged"][cols], old["loco_merged"][cols]
    return a.merge(b, on=["source", "view"], suffixes=(f"_{key}", "_bo"))


def compute_paired(views: pd.DataFrame | None, name: str, key: str, what: str,
                   base: pd.DataFrame | None = None) -> dict:
    """A recipe `name` at seeds 1 and 2 against he_bo's same seeds and folds (batch 37's views, or `base`), by batch
    44's rule; `key` names its side in the results file, `what` its batch in the message when something is missing."""
    base = tv.read_views(vm.VIEWS37) if base is None else base
    if views is None or base is None:
        return {"decision": f"{what}'s or batch 37's views are not measured: no decision"}
    for v, who in ((views, f"{name}'s"), (base, "he_bo's")):
        wrong = vm.wrong_seeds(v, SEEDS44, who)
        if wrong:
            return {"decision": wrong}
    new, old = side(views), side(base)
    ok, note = decide44(new, old, name)
    return records.jsonable({
        "qualifies": ok, "decision": note, key: {k: new[k] for k in ("merged", "per_seed")},
        "bo": {k: old[k] for k in ("merged", "per_seed")}, "per_source": per_source(new, old, key).to_dict("records"),
        "loco_merged": pd.concat([new["loco_merged"].assign(recipe=name),
                                  old["loco_merged"].assign(recipe="he_bo")]).to_dict("records"),
        "loco": pd.concat([new["loco"].assign(recipe=name), old["loco"].assign(recipe="he_bo")]).to_dict("records"),
        "floors_merged": {name: hv.floors_loco(new["loco_merged"], VIEW44),
                          "he_bo": hv.floors_loco(old["loco_merged"], VIEW44)}})


def compute44(views: pd.DataFrame | None = None) -> dict:
    return compute_paired(tv.read_views(VIEWS44) if views is None else views, "he_bo_gin", "gin", "batch 44")


def results44() -> dict | None:
    return records.read_json(RESULTS44)


# Batch 45 (experiments/batch45_mixed_merge/PLAN.md): he_bo seeds 1 and 2 with he_bo_gin seeds 1 and 2, merged,
# against replicate B of the shipped recipe (he_bo seeds 1 + 2 + 3 + 4, batch 39), both in the plain view.
BATCH45 = config.EXPERIMENTS_DIR / "batch45_mixed_merge"
RESULTS45 = BATCH45 / "results.json"
REPLICATE_B = 1  # batch 39 labels a replicate by its first member's seed
GAIN45, DROP_SLACK45 = 0.01, 1.0  # PLAN.md: 1 point above replicate B, largest drop at most 1 point larger


def mixed_views(other: pd.DataFrame, bo: pd.DataFrame) -> pd.DataFrame:
    """The four members' views in one frame; the other recipe's seeds offset by 100 so no seed is shared."""
    return pd.concat([bo, other.assign(seed=other["seed"] + 100)], ignore_index=True)


def decide45(mix: dict, rep_b: dict, name: str = "mix4", other: str = "he_bo_gin") -> tuple[bool | None, str]:
    """Batch 45's rule on a four-member mixed merge `name` (he_bo seeds 1, 2 and `other` seeds 1, 2); batch 47 reads
    it for he_bo_nm."""
    if None in (mix.get("primary"), mix.get("drop"), rep_b.get("primary"), rep_b.get("drop")):
        return None, "a merge is incomplete: no decision"
    gain = mix["primary"] - rep_b["primary"]
    ok1, ok2 = gain >= GAIN45 - 1e-12, mix["drop"] - rep_b["drop"] <= DROP_SLACK45 + 1e-9
    note = (f"{name} (he_bo seeds 1, 2 and {other} seeds 1, 2) {mix['primary']:.1%}, replicate B (he_bo seeds 1-4) "
            f"{rep_b['primary']:.1%} ({gain * 100:+.1f} points; {'at least' if ok1 else 'under'} "
            f"+{GAIN45 * 100:.0f}); largest brain-only drop {mix['drop']:.1f} points against {rep_b['drop']:.1f} "
            f"({'within' if ok2 else 'more than'} {DROP_SLACK45:.0f} point larger)")
    return ok1 and ok2, note + (f". {name} qualifies" if ok1 and ok2 else f". {name} does not qualify: nothing changes")


def compute_mixed(other_views: Path, name: str, other: str, what: str) -> dict:
    """he_bo seeds 1 and 2 (batch 37) merged with `other`'s seeds 1 and 2 (its batch's views) against replicate B."""
    new, bo, r39 = tv.read_views(other_views), tv.read_views(vm.VIEWS37), vm.results39()
    if new is None or bo is None or not r39:
        return {"decision": f"batch 37's or {what}'s views, or batch 39's results, are missing: no decision"}
    lo_m, rows = vm.merged_scores(mixed_views(new, bo))
    mix = next(r for r in rows if r["candidate"] == VIEW44)
    rep_b = next(r for r in r39["rows"] if r["replicate"] == REPLICATE_B and r["candidate"] == VIEW44)
    ok, note = decide45(mix, rep_b, name, other)
    lo_b = pd.DataFrame(r39["loco"])
    lo_b = lo_b[(lo_b["seed"] == REPLICATE_B) & (lo_b["recipe"] == VIEW44)]
    cols = ["source", "view", "sensitivity", "specificity", "auc"]
    per = lo_m[lo_m["recipe"] == VIEW44][cols].merge(lo_b[cols], on=["source", "view"], suffixes=("_mix", "_b"))
    return records.jsonable({"qualifies": ok, "decision": note, "mix4": mix, "replicate_b": rep_b,
                             "per_source": per.to_dict("records"),
                             "loco": lo_m[lo_m["recipe"] == VIEW44].assign(recipe=name).to_dict("records"),
                             "floors": hv.floors_loco(lo_m, VIEW44)})


def compute45() -> dict:
    return compute_mixed(VIEWS44, "mix4", "he_bo_gin", "batch 44")


def results45() -> dict | None:
    return records.read_json(RESULTS45)


# Batch 46 (experiments/batch46_no_mirror/PLAN.md): he_bo without its asymmetry channel, by batch 44's rule, and the
# held-out calls by plane (the tagger's planes of batch 42), since the channel means nothing on a sagittal slice.
BATCH46 = config.EXPERIMENTS_DIR / "batch46_no_mirror"
VIEWS46 = BATCH46 / "views.csv.gz"
RESULTS46 = BATCH46 / "results.json"
RECIPE46 = "he_bo_nm_e40"


def runs46() -> list:
    return tv.runs(BATCH46, SEEDS44, name=RECIPE46)


def calls_by_plane(views: pd.DataFrame, planes: pd.DataFrame) -> pd.DataFrame:
    """On the merge of the seeds, per held-out source, label (tumour or healthy) and tagged plane: slices and the
    share called tumour at the merge's own threshold."""
    merged, frames = tv.merged_views(views), []
    for fold in merged["fold"].unique():
        run = tv.candidate_run(merged, 0, fold, VIEW44)
        p = run["pred"]
        frames.append(p.assign(called=p["p_tumour"] >= float(run["operating_point"]["threshold"])))
    d = pd.concat(frames, ignore_index=True).merge(planes[["row", "plane"]], on="row", how="left")
    d["truth"] = d["label"].ne(config.NO_TUMOUR).map({True: "tumour", False: "healthy"})
    return (d.groupby(["source", "truth", "plane"]).agg(n=("called", "size"), called=("called", "mean"))
            .reset_index())


def compute_with_planes(views: pd.DataFrame | None, name: str, key: str, what: str) -> dict:
    """`compute_paired` against he_bo, with the held-out calls by plane of both merges (batches 46 and 48)."""
    from . import plane_call

    base = tv.read_views(vm.VIEWS37)  # read once: the paired comparison and the calls by plane
    out = compute_paired(views, name, key, what, base)
    planes = plane_call.read_planes()
    if key in out and planes is not None:
        a = calls_by_plane(views, planes)
        b = calls_by_plane(base, planes)
        out["by_plane"] = records.jsonable(a.merge(b, on=["source", "truth", "plane", "n"],
                                                   suffixes=(f"_{key}", "_bo")).to_dict("records"))
    return out


def compute46(views: pd.DataFrame | None = None) -> dict:
    return compute_with_planes(tv.read_views(VIEWS46) if views is None else views, "he_bo_nm", "nm", "batch 46")


def results46() -> dict | None:
    return records.read_json(RESULTS46)


# Batch 47 (experiments/batch47_nm_merge/PLAN.md): he_bo seeds 1 and 2 with he_bo_nm seeds 1 and 2, merged, against
# replicate B by batch 45's rule.
BATCH47 = config.EXPERIMENTS_DIR / "batch47_nm_merge"
RESULTS47 = BATCH47 / "results.json"


def compute47() -> dict:
    return compute_mixed(VIEWS46, "mixnm4", "he_bo_nm", "batch 46")


def results47() -> dict | None:
    return records.read_json(RESULTS47)


@dataclass(frozen=True)
class PairedBatch:
    """A recipe read against he_bo by batch 44's rule with the calls by plane (`compute_with_planes`): its folder,
    its runs' name, and the key of its side in the results."""
    number: int
    folder: str
    recipe: str
    key: str
    adversary: bool = False  # batch 49: the runs' domain losses against chance (`adversary_rows`)

    @property
    def path(self) -> Path:
        return config.EXPERIMENTS_DIR / self.folder

    @property
    def views(self) -> Path:
        return self.path / "views.csv.gz"

    @property
    def results_path(self) -> Path:
        return self.path / "results.json"

    def runs(self) -> list:
        return tv.runs(self.path, SEEDS44, name=f"{self.recipe}_e40")

    def compute(self, views: pd.DataFrame | None = None) -> dict:
        out = compute_with_planes(tv.read_views(self.views) if views is None else views, self.recipe, self.key,
                                  f"batch {self.number}")
        if self.adversary:
            out["adversary"] = adversary_rows(self.runs())
        return out

    def results(self) -> dict | None:
        return records.read_json(self.results_path)


# Batch 48 (experiments/batch48_mixup/PLAN.md): he_bo + mixup across the shuffled batch; batch 49
# (experiments/batch49_domain_adversary/PLAN.md): he_bo + a class-conditional domain adversary.
B48 = PairedBatch(48, "batch48_mixup", "he_bo_mix", "mix")
B49 = PairedBatch(49, "batch49_domain_adversary", "he_bo_dann", "dann", adversary=True)


def adversary_rows(paths: list[Path]) -> list[dict]:
    """Per saved run: the domain adversary's last-epoch loss on training and validation rows, and the loss of a head
    that knows only each label's source shares (chance) on the fold's training and validation rows."""
    from ..data import union_split
    from ..modeling import domain_adversary

    table, rows = pd.read_csv(union_split.UNION_SPLIT), []
    for p in paths:
        rec = records.read_json(p)
        if not rec:
            continue
        tr, va, _ = union_split.fold_rows(table, rec["config"]["fold"])
        h, chance = rec["history"], domain_adversary.chance_loss
        rows.append({"run": p.stem, "seed": rec["config"]["seed"], "fold": rec["config"]["fold"],
                     "train_loss": round(h["domain_loss"][-1], 4), "train_chance": round(chance(tr), 4),
                     "val_loss": round(h["val_domain_loss"][-1], 4), "val_chance": round(chance(va), 4)})
    return rows
