#!/usr/bin/env bash
# Waits for batch 19's runs, then runs batch 20's (one training at a time on this CPU).
while pgrep -f batch19_ensemble_at_40/runs.sh >/dev/null; do sleep 30; done
bash experiments/batch20_brain_only_ensemble/runs.sh > experiments/batch20_brain_only_ensemble/runs.log 2>&1
