"""The command line: arguments, the engine's results printed, exceptions mapped to exit codes."""
