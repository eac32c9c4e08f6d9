"""Domain tests: pure modules, no database."""
