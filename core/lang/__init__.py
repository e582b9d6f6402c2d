"""Language: normalization, concepts, translation and prompt assembly."""
