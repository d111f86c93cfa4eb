"""deepdojo.models."""
