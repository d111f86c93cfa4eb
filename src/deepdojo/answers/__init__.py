"""deepdojo.answers."""
