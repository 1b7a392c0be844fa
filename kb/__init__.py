"""kb: the knowledge base, one YAML file per condition, validated against schema.json on load."""

from netwhy.kb.loader import load_knowledge_base
from netwhy.kb.model import Cause, Condition, KnowledgeBase, Reference

__all__ = ["Cause", "Condition", "KnowledgeBase", "Reference", "load_knowledge_base"]
