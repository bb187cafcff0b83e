"""The parts of scripts/generate_schema.py: reading the pages, the action schema, the config schema."""
