"""deepdojo.search."""
