"""Encoders: networks that map inputs to float32 embeddings."""
