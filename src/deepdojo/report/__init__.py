"""deepdojo.report."""
