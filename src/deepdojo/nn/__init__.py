"""deepdojo.nn."""
