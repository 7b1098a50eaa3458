"""Modeling: network architectures, training, calibration, ensembles, the predictor (upload -> probabilities), Grad-CAM.

Imports data and the shared leaf modules, never evaluation, reporting or app.
"""
