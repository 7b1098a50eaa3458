"""`brain-mri` command line. Parsers live here; each verb calls one function in the module named after it.

Imports are lazy so that `brain-mri fetch` or `audit` never pays TensorFlow's start-up cost.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from . import config


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="brain-mri", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("fetch", help="download the Kaggle dataset with kagglehub (--all: also Br35H and Sartaj's Testing "
                       "with kagglehub, and healthy-extra from the public GitHub repositories at the commits listed in "
                       "data/manifests/healthy-extra.csv, NIfTI volumes cut into slices)")
    s.add_argument("--dest", default=str(config.RAW_DIR / config.DATASET_NAME))
    s.add_argument("--all", action="store_true", help="every collection, each into data/raw/<collection>/")
    s.set_defaults(target="helpers.data.fetch:cli_fetch")

    s = sub.add_parser("audit", help="leak audit: exact and mirrored/rotated duplicates, label conflicts")
    s.add_argument("data_dir", nargs="?", default=None)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--out", default=None, help="also write the JSON here")
    s.set_defaults(target="helpers.data.audit:cli_audit")

    s = sub.add_parser("split", help="write the grouped leak-free split and the official split as CSV")
    s.add_argument("data_dir", nargs="?", default=None)
    s.add_argument("--out-dir", default=str(config.SPLITS_DIR))
    s.add_argument("--seed", type=int, default=config.SEED)
    s.set_defaults(target="helpers.data.split:cli_split")

    s = sub.add_parser("collections", help="the collections found, their union split (data/splits/union.csv), sources")
    s.add_argument("--write", action="store_true", help="(re)write data/splits/union.csv")
    s.set_defaults(target="helpers.data.union_split:cli_collections")

    s = sub.add_parser("train-union", help="train a cross-collection recipe on the union split or one LOCO fold")
    s.add_argument("--recipe", default="multi", help="old, multi, multi_var, multi_var_bal, *_synth")
    s.add_argument("--fold", default=None,
                   help="leave this source out and test on it: br35h, sartaj, figshare or a healthy-extra source "
                        "(ixi-t2, open-ms, niivue, ms-flair-iran, dwi); several joined by '+' hold out all of them "
                        "(default: the union split's own test groups)")
    s.add_argument("--epochs", type=int, default=None)
    s.add_argument("--seed", type=int, default=None, help="default: the recipe's (42)")
    s.add_argument("--name", default=None, help="default: <recipe>__<fold or union>")
    s.add_argument("--out-dir", default=str(config.EXPERIMENTS_DIR / "batch4_cross_collection"))
    s.add_argument("--shipped", action="store_true", help="write a shipped model's folder (out-dir/<name>/)")
    s.set_defaults(target="helpers.evaluation.cross_collection:cli_train_union")

    s = sub.add_parser("loco-ensemble", help="merge LOCO runs of several recipes (or one recipe with its mirror) per "
                       "fold and seed and score the merge like a trained run (batches 11-21 did this by script)")
    s.add_argument("--name", required=True, help="the candidate's recipe name, e.g. ens_hb_e40")
    s.add_argument("--member", action="append", required=True, metavar="RECIPE=FOLDER",
                   help="a member: the recipe name its runs carry and the batch folder holding them; append "
                        "'~mirror' to the recipe for a member reading the mirrored slice, '@SEED' for that recipe's "
                        "run of another seed than the one scored (a seed ensemble)")
    s.add_argument("--out-dir", required=True, help="the batch folder the merged runs are written to")
    s.add_argument("--fold", action="append", help="default: the three folds of batches 10-23")
    s.add_argument("--seed", type=int, action="append", help="default: 42 and 7")
    s.set_defaults(target="helpers.modeling.loco_ensemble:cli_loco_ensemble")

    s = sub.add_parser("cross-collection", help="recompute the cross-collection chapter's results file")
    s.add_argument("--v1", default=str(config.IN_DATASET_MODEL),
                   help="the in-dataset model whose collapse the chapter shows")
    s.add_argument("--model", default=str(config.DEFAULT_MODEL))
    s.set_defaults(target="helpers.reporting.cross_collection:cli_cross_collection")

    s = sub.add_parser("healthy-variety", help="batch 10's results (experiments/batch10_healthy_variety/): LOCO per "
                       "held-out source and brain-only view, the rule, the warning, the shipped candidates")
    s.add_argument("--records-only", action="store_true",
                   help="only what the saved records give (no data, no TensorFlow): the split and old-model blocks "
                        "are carried over from the last results file")
    s.set_defaults(target="helpers.reporting.healthy_variety:cli_healthy_variety")

    s = sub.add_parser("transfer", help="batch 11's results (experiments/batch11_ensemble_transfer/): recipe "
                       "ensembles of the LOCO models, the threshold shift chosen nested over held-out folds, the "
                       "shipped candidates")
    s.add_argument("--records-only", action="store_true",
                   help="only what the saved records give (no data, no TensorFlow): the warning's validation firing "
                        "is carried over from the last results file")
    s.set_defaults(target="helpers.reporting.batch11:cli_transfer")

    s = sub.add_parser("procedural", help="batch 12's results (experiments/batch12_procedural_lesions/): procedural "
                       "lesions against batch 11's choice; the model that ships")
    s.add_argument("--records-only", action="store_true",
                   help="only what the saved records give (no data, no TensorFlow)")
    s.set_defaults(target="helpers.reporting.batch12:cli_procedural")

    s = sub.add_parser("warning", help="batch 16's results (experiments/batch16_warning_headroom/): the unfamiliar-"
                       "scan warning chosen again under a 4%% validation cap, written into the shipped model")
    s.set_defaults(target="helpers.reporting.batch11:cli_warning")

    s = sub.add_parser("train", help="train a model on the leak-free split")
    s.add_argument("--arch", default="resnet_small")
    s.add_argument("--name", default=None, help="model name (file stem under models/)")
    s.add_argument("--config", default=None, help="JSON file with a recorded training config (reproduces it)")
    s.add_argument("--data-dir", default=None)
    s.add_argument("--img-size", type=int, default=None)
    s.add_argument("--epochs", type=int, default=None)
    s.add_argument("--batch-size", type=int, default=None)
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--split", choices=("leakfree", "official"), default=None,
                   help="leakfree (default) or official (published-style comparison; val = a grouped tenth of train)")
    s.add_argument("--bundle", default=None, help="train from a file written by `brain-mri bundle` (no dataset needed)")
    s.add_argument("--time-budget-min", type=float, default=None,
                   help="stop after this many minutes, best weights kept (0: no budget)")
    s.add_argument("--ema-momentum", type=float, default=None,
                   help="validate and keep an exponential moving average of the weights, e.g. 0.998 (0: off)")
    s.add_argument("--mixup-alpha", type=float, default=None,
                   help="train on mixup blends of image pairs, lam ~ Beta(a, a), e.g. 0.4 (0: off; TensorFlow only)")
    s.add_argument("--reweight", choices=("intensity_profile", "none"), default=None,
                   help="weight each training image by 1 / P(its class) of a histogram-only model, cross-fitted on "
                        "the training images, against the acquisition shortcut (none: off)")
    s.add_argument("--gamma", type=float, default=None,
                   help="random intensity remap x**g, log g ~ U(-A, A), e.g. 0.4; needs model_kwargs with "
                        "augment_layer 'affine', as in --config models/brain_tumor_cnn/record.json (0: off)")
    s.add_argument("--init-from", default=None,
                   help="start from the weights of this .keras model (same arch and model_kwargs): a fine-tune")
    s.add_argument("--out-dir", default=str(config.MODELS_DIR))
    s.set_defaults(target="helpers.modeling.train:cli_train")

    s = sub.add_parser("bundle", help="write one split's preprocessed train+val arrays to one file, to train elsewhere")
    s.add_argument("out", help="output file, e.g. data/processed/bundle-leakfree-128.npz (never commit it)")
    s.add_argument("--split", choices=("leakfree", "official"), default="leakfree")
    s.add_argument("--img-size", type=int, default=config.IMG_SIZE)
    s.add_argument("--quality", type=int, default=92, help="JPEG quality; 0 stores the arrays losslessly")
    s.add_argument("--data-dir", default=None)
    s.set_defaults(target="helpers.data.bundle:cli_bundle")

    s = sub.add_parser("ensemble", help="merge trained models into one whose logits are their mean; calibrate on val")
    s.add_argument("models", nargs="+", help="two or more .keras files trained on the same split")
    s.add_argument("--name", required=True, help="model name (file stem under --out-dir)")
    s.add_argument("--out-dir", default=str(config.MODELS_DIR))
    s.add_argument("--data-dir", default=None)
    s.set_defaults(target="helpers.modeling.ensemble:cli_ensemble")

    s = sub.add_parser("ensemble-union", help="merge models of the whole union split into one shipped model folder: "
                       "operating point on union validation, warning rule, union test predictions, ONNX export")
    s.add_argument("models", nargs="+", help="two or more models/<name>/model.keras trained on the union split "
                   "(one with --mirror)")
    s.add_argument("--mirror", action="store_true",
                   help="merge the one model given with itself reading the mirrored slice (flip test-time augmentation)")
    s.add_argument("--name", required=True, help="the model folder's name under --out-dir")
    s.add_argument("--out-dir", default=str(config.MODELS_DIR))
    s.add_argument("--shift", type=float, default=0.0,
                   help="move the validation threshold by this many logits (a shift a batch adopted)")
    s.add_argument("--recipe", default=None, help="the batch's name for this ensemble (ens_he2, ...)")
    s.add_argument("--tta", choices=["hflip"], default=None,
                   help="average each slice's logits with its mirror's at prediction time (batch 35)")
    s.set_defaults(target="helpers.evaluation.cross_collection:cli_ensemble_union")

    s = sub.add_parser("calibrate", help="refit a model's temperature and choose flip test-time augmentation on val")
    s.add_argument("model", nargs="?", default=str(config.DEFAULT_MODEL))
    s.add_argument("--data-dir", default=None)
    s.set_defaults(target="helpers.modeling.train:cli_calibrate")

    s = sub.add_parser("evaluate", help="evaluate a model: leak-free test, official test, calibration, robustness")
    s.add_argument("model", nargs="?", default=str(config.DEFAULT_MODEL),
                   help=f"default: the shipped model, {config.DEFAULT_MODEL_NAME}")
    s.add_argument("--data-dir", default=None)
    s.add_argument("--bootstrap", type=int, default=1000)
    s.set_defaults(target="helpers.evaluation.evaluate:cli_evaluate")

    s = sub.add_parser("predict", help="the dashboard's call (tumour, no tumour, uncertain, no verdict) with its reason, "
                                       "calibrated probabilities and warnings, as CSV, for JPEG/PNG/DICOM files")
    s.add_argument("images", nargs="+", metavar="PATH", help="image or DICOM files, or folders (searched recursively)")
    s.add_argument("--model", default=None,
                   help=f"model folder, .keras file or name under models/ (default: the shipped model, "
                        f"{config.DEFAULT_MODEL_NAME})")
    s.set_defaults(target="helpers.app.predict:cli_predict")

    s = sub.add_parser("export", help="write a model's ONNX export (model.onnx) for TensorFlow-free prediction")
    s.add_argument("model", nargs="?", default=None, metavar="MODEL_DIR",
                   help=f"model folder, .keras file or name (default: the shipped model, {config.DEFAULT_MODEL_NAME})")
    s.set_defaults(target="helpers.modeling.export:cli_export")

    s = sub.add_parser("report", help="execute the numbered notebooks with papermill into reports/")
    s.add_argument("--smoke", action="store_true")
    s.add_argument("--retrain", action="store_true")
    s.add_argument("--data-dir", default=None)
    s.add_argument("--out-dir", default=None,
                   help="default: reports/, or reports/smoke/ for a smoke run (it never replaces the real run's pages)")
    s.add_argument("--inplace", action="store_true", help="also write executed notebooks back to notebooks/")
    s.set_defaults(target="helpers.reporting.runner:cli_report")

    s = sub.add_parser("dashboard", help="serve notebooks/dashboard.ipynb with Voila")
    s.add_argument("--port", type=int, default=8866)
    s.add_argument("--ip", default="127.0.0.1", help="address to bind (default: loopback only)")
    s.set_defaults(target="helpers.app.serve:cli_dashboard")

    s = sub.add_parser("scan-types", help="refit the plane/CT tagger (models/scan_type.json) from data/labels/")
    s.add_argument("--data-dir", default=None, help="dataset folder (default: $BRAIN_MRI_DATA or data/raw/...)")
    s.set_defaults(target="helpers.evaluation.scan_type:cli_scan_types")

    s = sub.add_parser("docs", help="regenerate every model's MODEL_CARD.md and the README's results from saved JSON")
    s.set_defaults(target="helpers.reporting.docs:cli_docs")

    s = sub.add_parser("bench", help="speed and memory benchmark; prints a table, writes bench/results.json")
    s.add_argument("--quick", action="store_true")
    s.set_defaults(target="helpers.bench:cli_bench")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    module, func = args.target.split(":")
    try:
        return int(getattr(importlib.import_module(module), func)(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
