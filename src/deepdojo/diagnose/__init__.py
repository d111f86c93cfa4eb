"""deepdojo.diagnose."""
