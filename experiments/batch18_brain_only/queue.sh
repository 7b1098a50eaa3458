#!/usr/bin/env bash
# Waits for batch 17's runs, then runs batch 18 (one CPU job at a time on this 2-core machine).
while pgrep -f "batch17_shipped_schedule/(queue|runs).sh" > /dev/null; do sleep 20; done
bash experiments/batch18_brain_only/runs.sh
