"""Fuzzing: hostile input at every entry point, and the minimal repros of what it found."""
