"""App: the Voila dashboard: upload checks, result cards, the models tab, the model registry, serving."""
