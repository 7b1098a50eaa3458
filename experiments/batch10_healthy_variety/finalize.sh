#!/usr/bin/env bash
# After queue.sh: the batch's results, the shipped model switched to the one the rule and amendment 2 chose, and
# everything that quotes it regenerated. Run from the repository root with BRAIN_MRI_DATA set.
set -euo pipefail
B=experiments/batch10_healthy_variety
CLI=.venv/bin/brain-mri
$CLI healthy-variety                       # decision, shipped candidate, warning choice (applied to that model)
name=$(.venv/bin/python -c "import json; print(json.load(open('$B/results.json'))['shipped'])")
echo "shipped: $name"
sed -i "s/^DEFAULT_MODEL_NAME = .*/DEFAULT_MODEL_NAME = \"$name\"/" helpers/config.py
[ -f "models/$name/model.onnx" ] || $CLI export "models/$name"
$CLI evaluate "models/$name/model.keras"
$CLI healthy-variety --records-only        # the README and card lines read the evaluated record
[ -f experiments/batch7_symmetry/gradcam_variants.brain_tumor_xc_sym.json ] || \
  cp experiments/batch7_symmetry/gradcam_variants.json experiments/batch7_symmetry/gradcam_variants.brain_tumor_xc_sym.json
.venv/bin/python experiments/batch7_symmetry/gradcam_variants.py "models/$name/model.keras"
$CLI cross-collection                      # chapter.json for the new shipped model, RESULTS.md, model cards
$CLI docs
