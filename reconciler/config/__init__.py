"""Files → the desired model: finding and reading files, YAML with locations, the 2024 spellings,
defaults, the JSON Schema check and the rules a schema cannot say."""
