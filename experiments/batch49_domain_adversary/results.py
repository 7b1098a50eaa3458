"""Batch 49's results.json and RESULTS.md from this folder's and batch 37's views.csv.gz and batch 42's planes.
Usage: python experiments/batch49_domain_adversary/results.py"""
from helpers.evaluation import intensity_net as inet
from helpers.reporting import batch44

print(batch44.write_paired(inet.B49, batch44.results49_markdown))
