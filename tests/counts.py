"""The one count of kinds and examples the per-kind tests guard.

A kind or example added or removed must change these numbers, so nothing joins
or leaves the registry unnoticed; every per-kind test imports them from here.
"""
KIND_COUNT = 83
EXAMPLE_COUNT = 177
