#!/usr/bin/env bash
# Waits for batch 15's runs.sh to end, then runs batch 17 (one CPU job at a time on this 2-core machine).
while pgrep -f "batch15_schedule/runs.sh" > /dev/null; do sleep 20; done
bash experiments/batch17_shipped_schedule/runs.sh
