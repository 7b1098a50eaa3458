"""The "Recipes compared" table of the model card and README: one row per evaluated run record (models/ and
experiments/), and the spread of a recipe over seeds.
"""
from __future__ import annotations

import json
from pathlib import Path
from .. import config, records
from ..modeling import intensity_profile
from ..evaluation.evaluate import read_predictions
from ..formatting import pct_ci


def recipe_rows(models_dir: Path = config.MODELS_DIR) -> list[tuple]:
    """One row per evaluated model record in models_dir: recipe facts, val accuracy, leak-free test accuracy."""
    rows = []
    misses = _misses_by_profile_reader(models_dir)
    for f in records.find(models_dir):
        try:
            m = records.read_json(f.record)
            ev = m["evaluation"]["leakfree_test"]
        except (KeyError, TypeError, ValueError):
            continue  # baselines.json and unevaluated models
        c = m.get("config") or {}
        if m.get("members"):  # an ensemble: its members' shared recipe
            c = m["members"][0].get("config") or {}
        arch = net_label({"arch": m.get("arch", "?"), **c})
        if m.get("members"):
            arch = f"ensemble of {len(m['members'])} × {arch}"
        val = (m.get("validation") or {}).get("accuracy")
        test = pct_ci(ev["accuracy"])
        if ev.get("contaminated"):  # e.g. trained on the official split: most leak-free test images were seen
            test += f" — contaminated: {ev['n_in_training_split']} of {ev['n']} seen in training"
        split = (m.get("data") or {}).get("split", "leakfree")
        name = f"`{m['name']}`" + ("" if split == "leakfree" else f" (trained on the {split} split)")
        if not f.weights.is_file():
            name += ", weights not committed"
        extras = [f"{label} {c[key]}" for key, label in (("ema_momentum", "weight EMA"), ("mixup_alpha", "mixup"),
                                                          ("reweight", "reweight")) if c.get(key)]
        if (c.get("model_kwargs") or {}).get("gamma"):
            extras.append(f"random gamma {c['model_kwargs']['gamma']}")
        if c.get("init_from"):
            extras.append(f"fine-tune of `{Path(str(c['init_from'])).stem}` at lr {c.get('lr')}")
        extras = ", ".join(extras) or "none"
        frac, epochs = c.get("early_stop_from"), c.get("epochs")
        watch = f"from epoch {int(epochs * frac) + 1}" if frac is not None and epochs else "n/a"
        where = records.trained_on(m)  # an ensemble's record carries its members' data block
        rows.append((name, arch, m.get("epochs_run", "?"), watch, c.get("weight_decay", "?"), extras,
                     m.get("tta") or "none", where, f"{100 * val:.1f}%" if isinstance(val, float) else "n/a", test,
                     misses(m.get("name", f.name))))
    return rows


def _misses_by_profile_reader(models_dir: Path):
    """name -> "4 (4)": a model's missed leak-free test tumours and, in brackets, how many of them are in the lowest
    stratum (intensity_profile.N_STRATA) of test tumours by the intensity-profile baseline's P(tumour); "n/a" without the predictions files."""
    import pandas as pd

    from ..evaluation.baselines import PROFILE_PREDICTIONS

    try:
        prof = pd.read_csv(models_dir / PROFILE_PREDICTIONS)
    except (OSError, ValueError):
        prof = None

    def read(name: str) -> str:
        pred = read_predictions(models_dir, name)
        if pred is None:
            return "n/a"
        if prof is None:
            t = pred[(pred["eval_split"] == "leakfree_test") & (pred["label"] != config.NO_TUMOUR)]
            return str(int((t["prediction"] == config.NO_TUMOUR).sum()))
        r = intensity_profile.misses_by_profile(pred, prof)
        return f"{r['n_missed']} ({r['missed_in_lowest']})" if r else "n/a"

    return read


RECIPE_COLUMNS = ("model", "architecture", "epochs run", "early stopping watches", "weight decay", "extras",
                  "test-time augmentation", "trained on", "val accuracy", "leak-free test accuracy",
                  f"missed tumours (in lowest profile {intensity_profile.stratum_name()})")

def net_label(cfg: dict) -> str:
    """An architecture as configured, in a few words: "resnet_small (width 32, no stem pooling)"."""
    arch = cfg.get("arch", "?")
    if arch != "resnet_small":
        return arch
    kw = cfg.get("model_kwargs") or {}
    bits = [f"width {kw.get('width', 16)}"] + ([] if kw.get("stem_pool", True) else ["no stem pooling"])
    return f"{arch} ({', '.join(bits)})"


def recipes_markdown(rows: list[tuple]) -> str:
    """recipe_rows as a Markdown table (the model card and notebook 05 show the same one)."""
    return "\n".join(["| " + " | ".join(RECIPE_COLUMNS) + " |", "|" + "---|" * len(RECIPE_COLUMNS),
                      *("| " + " | ".join(map(str, r)) + " |" for r in rows)])


_NOT_RECIPE = ("name", "seed", "time_budget_min")  # config keys that do not change what is trained

def seed_spread(models_dir: Path = config.MODELS_DIR) -> list[dict]:
    """Records trained with the same recipe but different seeds (config equal apart from name, seed and time
    budget): their val and leak-free test accuracies, mean and sample SD. Only recipes with >= 2 seeds."""
    import statistics

    groups: dict[str, list[dict]] = {}
    for f in records.find(models_dir):
        try:
            m = records.read_json(f.record)
            test = m["evaluation"]["leakfree_test"]["accuracy"]["value"]
            cfg = m["config"]
        except (KeyError, TypeError, ValueError):
            continue
        if cfg.get("arch") == "ensemble" or (m.get("data") or {}).get("split", "leakfree") != "leakfree":
            continue
        # keys added to DEFAULTS later are absent from older records: None and absent mean the same (off)
        key = json.dumps({k: v for k, v in cfg.items() if k not in _NOT_RECIPE and v is not None}, sort_keys=True)
        groups.setdefault(key, []).append({"name": m["name"], "seed": cfg.get("seed"), "test": test,
                                           "val": (m.get("validation") or {}).get("accuracy")})
    out = []
    for key, runs in groups.items():
        if len({r["seed"] for r in runs}) < 2:
            continue
        row = {"recipe": json.loads(key), "runs": sorted(runs, key=lambda r: r["seed"])}
        for k in ("val", "test"):
            v = [r[k] for r in runs if isinstance(r[k], float)]
            row[k] = {"mean": statistics.mean(v), "sd": statistics.stdev(v) if len(v) > 1 else float("nan"),
                      "min": min(v), "max": max(v)} if v else None
        out.append(row)
    return out


def seed_spread_markdown(models_dir: Path = config.MODELS_DIR) -> str:
    """One paragraph per repeated recipe: how far the same recipe moves with the seed alone."""
    lines = []
    for row in seed_spread(models_dir):
        runs = ", ".join(f"`{r['name']}` (seed {r['seed']}): val {100 * r['val']:.1f}%, test {100 * r['test']:.1f}%"
                         if isinstance(r["val"], float) else f"`{r['name']}` (seed {r['seed']}): test {100 * r['test']:.1f}%"
                         for r in row["runs"])
        v, t = row["val"], row["test"]
        stats = "; ".join(f"{label} mean {100 * d['mean']:.1f}% (SD {100 * d['sd']:.2f} points, range "
                          f"{100 * d['min']:.1f}–{100 * d['max']:.1f}%)" for label, d in (("val", v), ("test", t)) if d)
        lines.append(f"The same recipe ({net_label(row['recipe'])}, {row['recipe'].get('epochs')} epochs) trained "
                     f"with {len(row['runs'])} seeds: {runs}. {stats[0].upper() + stats[1:]}. A recipe change smaller "
                     f"than this spread cannot be told from the seed.")
    return "\n\n".join(lines)
