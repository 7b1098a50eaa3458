"""Data: dataset layouts, download, synthetic phantoms, leak audit, splits, decoding, preparing, the array cache, bundles.

Imports only the shared leaf modules (config, errors, records, stats, formatting).
"""
