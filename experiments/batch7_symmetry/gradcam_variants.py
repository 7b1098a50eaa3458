"""Batch 7 addendum: the six Grad-CAM variants (target x grid) of a model, scored by the pointing game on the
outlined Br35H slices of the union validation and test splits. Writes gradcam_variants.<model>.json beside this
file (one per model, so choosing for a new model never overwrites another's), and adopts the variant
chosen on validation into the model's record ("gradcam": helpers.modeling.explain.adopt_choice), which is what its
heat maps then use. A model with an ONNX export needs `brain-mri export` after a changed grid.

Run: python experiments/batch7_symmetry/gradcam_variants.py [model folder, default the shipped model]"""
import sys

from helpers import config, records
from helpers.data import outlines, union_split
from helpers.evaluation import localisation
from helpers.modeling.explain import adopt_choice, variants_file
from helpers.modeling.predictor import load_model

TARGETS = ("type", "p_tumour")
GRIDS = (None, 8, 16)


def choose(rows: list[dict]) -> dict:
    """Highest validation pointing game; ties to the coarser grid, then to the old target (the plan's order)."""
    order = {(t, g): i for i, (g, t) in enumerate((g, t) for g in GRIDS for t in TARGETS)}
    return max(rows, key=lambda r: (r["val"]["pointing_game"], -order[(r["target"], r["grid"])]))


def main(model_dir: str | None = None) -> dict:
    p = load_model(model_dir or config.DEFAULT_MODEL)
    u = union_split.build()
    X = union_split.union_arrays(u)
    rows, masks = outlines.union_masks(u.table, u.roots)
    split = u.table.loc[rows, "split"].to_numpy()
    out = []
    for g in GRIDS:
        for t in TARGETS:
            r = {"target": t, "grid": g}
            for s in ("val", "test"):
                sel = split == s
                sc = localisation.score(p.model, X[rows[sel]], masks[sel], target=t, grid=g)
                r[s] = {k: v for k, v in sc.items() if k != "hits"}
            print(f"{t:9s} grid {g or 'last_conv'}: val {r['val']['pointing_game']:.3f} "
                  f"test {r['test']['pointing_game']:.3f} (n {r['val']['n']}/{r['test']['n']})", flush=True)
            out.append(r)
    best = choose(out)
    res = {"model": p.name, "variants": out, "chosen": {"target": best["target"], "grid": best["grid"]}}
    path = variants_file(p.name)
    records.write_json(res, path)
    print("chosen:", res["chosen"], "->", adopt_choice(path, p.path))
    return res


if __name__ == "__main__":
    main(*sys.argv[1:])
