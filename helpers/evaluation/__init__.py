"""Evaluation: metrics with bootstrap intervals, the evaluation driver, robustness, baselines, model comparison, scan type.

Imports modeling, data and the shared leaf modules.
"""
