"""Batch 44 in words: its RESULTS.md and the conclusions' line, from the results file that
evaluation.intensity_net computes from this batch's and batch 37's views.csv.gz."""
from __future__ import annotations

from ..formatting import pct
from .healthy_variety import SOURCE_NAMES, floors_markdown, loco_markdown
from .tables import results_head

TITLE44 = "a random shallow network's grey levels in training (GIN), he_bo_gin against he_bo, seeds 1 and 2"
NAMES44 = {"he_bo_gin": "he_bo + GIN (a random network's grey levels)", "he_bo": "he_bo (shipped recipe)",
           "he_bo_nm": "he_bo without the asymmetry channel", "he_bo_mix": "he_bo + mixup across collections",
           "he_bo_dann": "he_bo + a class-conditional domain adversary"}


def _pct(v) -> str:
    return "n/a" if v is None or v != v else pct(v)  # no tumours (or no healthy slices) in a source: n/a


def _drop(r: dict) -> str:
    return "n/a" if r.get("drop") is None else f"{r['drop']:.1f} points"


def paired_markdown(res: dict, head: list[str], key: str, name: str) -> list[str]:
    """A recipe `name` (its side `key` in the results) against he_bo on the same seeds (batches 44 and 46): both merges
    and single runs, per held-out source, every evaluation and the floors."""
    if not res.get(key):
        return head
    names = {name: NAMES44.get(name, name), "he_bo": NAMES44["he_bo"]}
    out = head + ["| recipe | merge: primary score (16 numbers) | merge: largest brain-only drop | merge: mean drop | "
                  "seed 1 single runs | seed 2 single runs |", "|---|---|---|---|---|---|"]
    for rec, sd in ((name, res[key]), ("he_bo", res["bo"])):
        m = sd["merged"]
        mean = "n/a" if m.get("mean_drop") is None else f"{m['mean_drop']:.1f} points"
        seeds = " | ".join(pct(sd["per_seed"].get(str(s), sd["per_seed"].get(s))) for s in (1, 2))
        out.append(f"| {names[rec]} | {pct(m['primary'])} | {_drop(m)} | {mean} | {seeds} |")
    out += ["", "## Per held-out source, the merges (plain slices and their brain-only view)", "",
            f"| source | view | {name} sensitivity | he_bo sensitivity | {name} specificity | he_bo specificity |",
            "|---|---|---|---|---|---|"]
    for r in res["per_source"]:
        out.append(f"| {SOURCE_NAMES.get(r['source'], r['source'])} | {r['view']} | {_pct(r[f'sensitivity_{key}'])} | "
                   f"{_pct(r['sensitivity_bo'])} | {_pct(r[f'specificity_{key}'])} | {_pct(r['specificity_bo'])} |")
    out += ["", "## Every evaluation of the single runs", "", loco_markdown({"loco": res["loco"]}, names=names), ""]
    for rec, fl in res.get("floors_merged", {}).items():
        out += [f"## LOCO floors, {names.get(rec, rec)}, merge of seeds 1 and 2", "", floors_markdown(fl), ""]
    return out


def results44_markdown(res: dict) -> str:
    head = results_head(44, TITLE44, "batch44_intensity_net", "this folder's and batch 37's `views.csv.gz`",
                        "Both recipes at 40 epochs, seeds 1 and 2, the three folds, read in the plain view (what "
                        "ships); the merge of the two seeds has its logits averaged per slice and its operating point "
                        "refitted on validation.", res.get("decision", "not measured yet"))
    return "\n".join(paired_markdown(res, head, "gin", "he_bo_gin")).rstrip("\n") + "\n"


def summary_line(res: dict | None) -> str | None:
    """Batch 44 in one sentence, with Br35H's held-out sensitivity on both merges (the shortcut it aims at)."""
    if not res or not res.get("gin"):
        return None
    br = next((r for r in res["per_source"] if r["source"] == "br35h" and r["view"] == "plain"), None)
    extra = (f"; held-out Br35H sensitivity on the merges {pct(br['sensitivity_gin'])} with GIN, "
             f"{pct(br['sensitivity_bo'])} without" if br else "")
    return f"Batch 44 ({TITLE44}): {res['decision']}{extra}."


TITLE45 = "he_bo and he_bo_gin merged, two seeds each, against the shipped recipe's four-seed replicate B"


def mixed_markdown(res: dict, batch: int, title: str, folder: str, source: str, other: str, name: str) -> str:
    """A four-member mixed merge `name` (he_bo seeds 1, 2 + `other` seeds 1, 2) against replicate B (batches 45, 47)."""
    out = results_head(batch, title, folder, source, "Four members against four members, two of them the same (he_bo "
                       "seeds 1 and 2); the plain view; each merge's operating point refitted on validation.",
                       res.get("decision", "not measured yet"))
    if not res.get("mix4"):
        return "\n".join(out) + "\n"
    out += ["| merge | primary score (16 numbers) | largest brain-only drop | mean drop |", "|---|---|---|---|"]
    for label, m in ((f"{name}: he_bo seeds 1, 2 + {other} seeds 1, 2", res["mix4"]),
                     ("replicate B: he_bo seeds 1, 2, 3, 4", res["replicate_b"])):
        mean = "n/a" if m.get("mean_drop") is None else f"{m['mean_drop']:.1f} points"
        out.append(f"| {label} | {pct(m['primary'])} | {_drop(m)} | {mean} |")
    out += ["", "## Per held-out source", "", f"| source | view | sensitivity: {name} | replicate B | specificity: "
            f"{name} | replicate B | ROC-AUC: {name} | replicate B |", "|---|---|---|---|---|---|---|---|"]
    auc = lambda v: "n/a" if v is None or v != v else f"{v:.3f}"  # noqa: E731
    for r in res["per_source"]:
        out.append(f"| {SOURCE_NAMES.get(r['source'], r['source'])} | {r['view']} | {_pct(r['sensitivity_mix'])} | "
                   f"{_pct(r['sensitivity_b'])} | {_pct(r['specificity_mix'])} | {_pct(r['specificity_b'])} | "
                   f"{auc(r['auc_mix'])} | {auc(r['auc_b'])} |")
    out += ["", f"## LOCO floors, {name}", "", floors_markdown(res.get("floors", [])), ""]
    return "\n".join(out)


def results45_markdown(res: dict) -> str:
    return mixed_markdown(res, 45, TITLE45, "batch45_mixed_merge", "batches 37's and 44's `views.csv.gz` and batch "
                          "39's results", "he_bo_gin", "mix4")


def summary_line45(res: dict | None) -> str | None:
    return f"Batch 45 ({TITLE45}): {res['decision']}." if res and res.get("mix4") else None


TITLE46 = "the shipped recipe without its asymmetry channel, he_bo_nm against he_bo, seeds 1 and 2"


def with_planes_markdown(res: dict, head: list[str], key: str, name: str) -> str:
    """`paired_markdown` and the held-out calls by plane of both merges (batches 46 and 48)."""
    out = paired_markdown(res, head, key, name)
    if res.get("by_plane"):
        out += ["## Held-out slices called tumour, by the tagger's plane (the merges, at their own thresholds)", "",
                f"| source | truth | plane | slices | {name} | he_bo |", "|---|---|---|---|---|---|"]
        out += [f"| {SOURCE_NAMES.get(r['source'], r['source'])} | {r['truth']} | {r['plane']} | {r['n']:,} | "
                f"{_pct(r[f'called_{key}'])} | {_pct(r['called_bo'])} |" for r in res["by_plane"]]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def paired_with_planes_markdown(res: dict, batch: int, title: str, folder: str, key: str, name: str) -> str:
    """A paired batch read as batch 44, with the calls by plane (46, 48): its RESULTS.md."""
    head = results_head(batch, title, folder, "this folder's and batch 37's `views.csv.gz` and batch 42's "
                        "`planes.csv.gz`", "Read as batch 44: 40 epochs, seeds 1 and 2, the three folds, the plain "
                        "view, the two seeds merged in logits with the operating point refitted on validation.",
                        res.get("decision", "not measured yet"))
    return with_planes_markdown(res, head, key, name)


def results46_markdown(res: dict) -> str:
    return paired_with_planes_markdown(res, 46, TITLE46, "batch46_no_mirror", "nm", "he_bo_nm")


def summary_line46(res: dict | None) -> str | None:
    """Batch 46 in one sentence, with Sartaj's healthy sagittal slices called tumour on both merges."""
    if not res or not res.get("nm"):
        return None
    sag = next((r for r in res.get("by_plane", []) if r["source"] == "sartaj" and r["truth"] == "healthy"
                and r["plane"] == "sagittal"), None)
    extra = (f"; Sartaj's healthy sagittal slices called tumour {pct(sag['called_nm'])} without the channel, "
             f"{pct(sag['called_bo'])} with it" if sag else "")
    return f"Batch 46 ({TITLE46}): {res['decision']}{extra}."


TITLE47 = "he_bo and he_bo_nm merged, two seeds each, against the shipped recipe's four-seed replicate B"


def results47_markdown(res: dict) -> str:
    return mixed_markdown(res, 47, TITLE47, "batch47_nm_merge", "batches 37's and 46's `views.csv.gz` and batch 39's "
                          "results", "he_bo_nm", "mixnm4")


def summary_line47(res: dict | None) -> str | None:
    return f"Batch 47 ({TITLE47}): {res['decision']}." if res and res.get("mix4") else None


TITLE48 = "mixup across collections in training, he_bo_mix against he_bo, seeds 1 and 2"


def results48_markdown(res: dict) -> str:
    return paired_with_planes_markdown(res, 48, TITLE48, "batch48_mixup", "mix", "he_bo_mix")


def paired_summary_line(res: dict | None, batch: int, title: str, key: str, change: str) -> str | None:
    """A paired batch (48, 49) in one sentence, with held-out Br35H sensitivity and Sartaj specificity on both
    merges; `change` names the recipe's difference ("mixup")."""
    if not res or not res.get(key):
        return None
    get = {r["source"]: r for r in res["per_source"] if r["view"] == "plain"}
    br, sa = get.get("br35h"), get.get("sartaj")
    extra = (f"; held-out Br35H sensitivity {pct(br[f'sensitivity_{key}'])} with {change}, "
             f"{pct(br['sensitivity_bo'])} without; Sartaj specificity {pct(sa[f'specificity_{key}'])} against "
             f"{pct(sa['specificity_bo'])}" if br and sa else "")
    return f"Batch {batch} ({title}): {res['decision']}{extra}."


def summary_line48(res: dict | None) -> str | None:
    return paired_summary_line(res, 48, TITLE48, "mix", "mixup")


TITLE49 = "a class-conditional domain adversary in training, he_bo_dann against he_bo, seeds 1 and 2"


def results49_markdown(res: dict) -> str:
    """Batch 48's reading, and whether the adversary reached chance: its last-epoch loss beside the loss of a head
    that knows only each label's source shares."""
    out = paired_with_planes_markdown(res, 49, TITLE49, "batch49_domain_adversary", "dann", "he_bo_dann")
    if not res.get("adversary"):
        return out
    rows = ["## The adversary against chance (last epoch)", "",
            "Chance: the loss of a head that knows only how the rows' sources are shared within each label (the mean "
            "over the two labels of that entropy). A loss at chance means the head could not tell the sources apart "
            "from the features.", "",
            "| seed | fold | training loss | training chance | validation loss | validation chance |",
            "|---|---|---|---|---|---|"]
    rows += [f"| {r['seed']} | {r['fold']} | {r['train_loss']:.3f} | {r['train_chance']:.3f} | {r['val_loss']:.3f} | "
             f"{r['val_chance']:.3f} |" for r in res["adversary"]]
    return out + "\n".join(rows) + "\n"


def summary_line49(res: dict | None) -> str | None:
    return paired_summary_line(res, 49, TITLE49, "dann", "the adversary")


def write_paired(batch, markdown) -> str:
    """A `PairedBatch`'s results.json and RESULTS.md (its folder's results.py); returns the line to print."""
    from .. import config, records

    res = batch.compute()
    records.write_json(res, batch.results_path)
    (batch.path / "RESULTS.md").write_text(markdown(res))
    return f"wrote {batch.results_path.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}"
