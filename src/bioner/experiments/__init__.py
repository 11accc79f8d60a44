"""Generalization experiments (Saber §2.8, §3): in-corpus k-fold CV, out-of-corpus evaluation,
statistics over repeated runs, paper-shaped tables and plots, hyperparameter search.

Submodules hold one job each; nothing is imported here so `import bioner` stays light.
"""
