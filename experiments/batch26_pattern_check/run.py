"""Batch 26 (PLAN.md): the synthetic-pattern check's three measurements, written to measurements.json in this folder.
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch26_pattern_check/run.py [MODEL]
MODEL: the shipped model's name (default: the project's default model)."""
import sys

from helpers import config, records
from helpers.app.input_checks import REF_SIZE, check_messages, image_features
from helpers.data import union_split
from helpers.data.prepare import prepare
from helpers.evaluation import pattern_study as ps


def passes_pixel_checks(g):
    """What batch 26 is about: pictures the app's pixel checks let through (`unlike the training MRI slices` unsaid)."""
    msgs = check_messages(image_features(None, g, prepare(g, REF_SIZE)), *g.shape[::-1])
    return not any(m.startswith("unlike the training MRI slices") for m in msgs)


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else config.DEFAULT_MODEL_NAME
    u = union_split.build()
    X = union_split.union_arrays(u)
    S, fam = ps.synthetic(X.shape[1], passes_pixel_checks)
    print(f"{len(S)} synthetic pictures", flush=True)
    loco = ps.unseen_collections(u, X, S)
    print("measurement 1 done", flush=True)
    ship = ps.shipped(name, u, X, S, fam)
    records.write_json({"loco": loco, "shipped": ship}, ps.BATCH26 / "measurements.json")
    print(f"wrote measurements.json for {name}", flush=True)
