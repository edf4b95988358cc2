"""The knowledge base: knowledge points, policy documents, loading and validation."""
from kb.loader import CorpusError, Problem, load_corpus
from kb.model import Corpus, KnowledgePoint, PolicyDocument

__all__ = ["Corpus", "CorpusError", "KnowledgePoint", "PolicyDocument", "Problem", "load_corpus"]
