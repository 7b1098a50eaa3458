"""Reporting: the notebooks' run context, the papermill runner, tables, findings, figures, the model card and EDA.

Imports evaluation, modeling, data and the shared leaf modules, never app.
"""
