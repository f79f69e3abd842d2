"""Datasets: Omniglot from its zips, and one adapter for any labelled data."""
