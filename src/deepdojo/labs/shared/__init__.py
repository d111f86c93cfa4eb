"""Helpers shared by two or more labs (a helper used by one lab lives in that lab's package)."""
