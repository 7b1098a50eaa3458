"""Batch 50's results.json and RESULTS.md from this folder's and batch 37's runs (predictions and records).
Usage: python experiments/batch50_admitted_share/results.py"""
from helpers.reporting import batch50

print(batch50.write())
