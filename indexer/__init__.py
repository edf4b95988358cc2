"""Builds the hybrid (BM25 + dense vector) index from the knowledge base."""
