"""The .nn textual syntax: textX grammar, parser to the pivot and registration."""
