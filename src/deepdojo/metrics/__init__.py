"""deepdojo.metrics."""
