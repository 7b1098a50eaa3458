"""Batch 40 in words: its RESULTS.md and the conclusions' line, from the results file that
evaluation.look_warning computes from this batch's looks.csv.gz and batches 35, 37 and 39's views."""
from __future__ import annotations

from ..formatting import pct
from .tables import results_head

TITLE40 = "a warning for a new kind of acquisition, from the pixels alone"


def _count(r: dict) -> str:
    return f"{r['missed_flagged']:,} of {r['missed']:,} ({pct(r['share'])})"


def results40_markdown(res: dict) -> str:
    out = results_head(40, TITLE40, "batch40_look_warning", "`looks.csv.gz` and batches 35, 37 and 39's `views.csv.gz`",
                       "Look scores measured by `run.py` (`evaluation.look_warning.measure`); calls of the two "
                       "four-seed merges of the shipped recipe, each at its own operating point per fold.",
                       res["decision"])
    reps = res.get("replicates") or {}
    if reps:
        labels = list(reps)
        out += ["## Every candidate: held-out missed tumours flagged (the slice and its brain-only view pooled) and "
                "firing on the folds' familiar test slices, per replicate", "",
                "A candidate's flag is its look flag or the shipped rule's (batch 22's distance; on a merge, the mean "
                "of its members' distance ratios beyond 1). \"look alone\" columns drop the shipped rule.", "",
                "| candidate | " + " | ".join(f"{lab} (seeds {' + '.join(map(str, reps[lab]['seeds']))}): missed "
                                            f"flagged | {lab}: look alone | {lab}: familiar firing (look alone) | "
                                            f"{lab}: held-out slices flagged" for lab in labels) + " |",
                "|---|" + "---|---|---|---|" * len(labels)]
        for i, r0 in enumerate(reps[labels[0]]["rows"]):
            cells = []
            for lab in labels:
                r = reps[lab]["rows"][i]
                cells += [_count(r), pct(r.get("look_share")),
                          f"{pct(r['familiar_firing'])} ({pct(r.get('look_familiar_firing'))})", pct(r["held_flagged"])]
            out.append(f"| {r0['candidate']} | " + " | ".join(cells) + " |")
        out.append("")
    ua = res.get("union_all") or {}
    if ua:
        out += ["## Every candidate on the union test slices (refitted on the union training rows, cut on union "
                "validation), with the shipped model's own rule", "",
                "| candidate | slices | look fires | shipped rule fires | either fires (at most 5% to ship) |",
                "|---|---|---|---|---|"]
        out += [f"| {k} | {u['slices']:,} | {pct(u['look_firing'])} | {pct(u['shipped_firing'])} | {pct(u['firing'])} |"
                for k, u in ua.items()]
        out.append("")
    ca = res.get("cost_all") or {}
    if ca:
        cands = list(ca)
        srcs = [r["source"] for r in ca[cands[0]]]
        out += ["## What each candidate costs on the held-out sources, replicate B: share of the slices flagged "
                "(share of the flagged calls that were right)", "",
                "| source | slices | " + " | ".join(cands) + " |", "|---|---|" + "---|" * len(cands)]
        for i, src in enumerate(srcs):
            cells = [f"{pct(ca[c][i]['flagged'])} ({pct(ca[c][i]['flagged_right'])})" for c in cands]
            out.append(f"| {src} | {ca[cands[0]][i]['slices']:,} | " + " | ".join(cells) + " |")
        out.append("")
    for lab, rows in (res.get("cost") or {}).items():
        out += [f"## What the chosen flag costs on held-out sources, replicate {lab}", "",
                "| source | slices | flagged | flagged calls right | missed | missed flagged |", "|---|---|---|---|---|---|"]
        out += [f"| {r['source']} | {r['slices']:,} | {pct(r['flagged'])} | {pct(r['flagged_right'])} | {r['missed']:,} | "
                f"{r['missed_flagged']:,} |" for r in rows]
        out.append("")
    return "\n".join(out)


def summary_lines() -> list[str]:
    """The conclusions' lines for batches 40 to 50."""
    from ..evaluation import admitted_share, intensity_net, look_warning, plane_call, plane_tagger
    from .batch21 import decision_lines
    from .batch37 import TITLE41, results41
    from .batch42 import TITLE43
    from .batch42 import summary_line as line42
    from .batch44 import summary_line as line44
    from .batch44 import summary_line45 as line45
    from .batch44 import summary_line46 as line46
    from .batch44 import summary_line47 as line47
    from .batch44 import summary_line48 as line48
    from .batch44 import summary_line49 as line49
    from .batch50 import summary_line as line50

    lines = [summary_line(look_warning.results()), *decision_lines(((41, TITLE41, results41()),)),
             line42(plane_call.results()), *decision_lines(((43, TITLE43, plane_tagger.results()),)),
             line44(intensity_net.results44()), line45(intensity_net.results45()),
             line46(intensity_net.results46()), line47(intensity_net.results47()),
             line48(intensity_net.B48.results()), line49(intensity_net.B49.results()),
             line50(admitted_share.results())]
    return [x for x in lines if x]


def summary_line(res: dict | None) -> str | None:
    """Batch 40 in one sentence."""
    if not res or not res.get("replicates"):
        return None
    rows = {r["candidate"]: r for r in res["replicates"]["B"]["rows"]}
    best = max((r for r in rows.values() if r.get("feature_set")), key=lambda r: r["share"])
    low = min((r for r in rows.values() if r.get("feature_set")), key=lambda r: r["familiar_firing"])
    sh = rows["shipped rule alone"]
    return (f"Batch 40 ({TITLE40}): on the second four-seed replicate the shipped rule alone flags {pct(sh['share'])} of "
            f"the held-out missed tumours at {pct(sh['familiar_firing'])} familiar firing; adding a look score from "
            f"the pixels raises that to {pct(low['share'])}–{pct(best['share'])}, but at "
            f"{pct(low['familiar_firing'])}–{pct(best['familiar_firing'])} familiar firing. By its rule: "
            f"{res['decision']}.")
