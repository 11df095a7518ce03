"""Causative factors: catalogue, local recipes, classification and report."""
