"""Batch 48's results.json and RESULTS.md from this folder's and batch 37's views.csv.gz and batch 42's planes.
Usage: python experiments/batch48_mixup/results.py"""
from helpers.evaluation import intensity_net as inet
from helpers.reporting import batch44

print(batch44.write_paired(inet.B48, batch44.results48_markdown))
