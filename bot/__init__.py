"""The answer engine: retrieval, fusion, the answer decision and the dialogue around it."""
