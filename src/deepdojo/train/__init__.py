"""deepdojo.train."""
