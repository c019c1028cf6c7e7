"""The benchmark sections, one module each; ``benchmarks/run.py`` runs them."""
