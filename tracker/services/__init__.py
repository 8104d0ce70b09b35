"""Domain services: typed functions that take the session first; they flush, never commit."""

