"""deepdojo.data."""
