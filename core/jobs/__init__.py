"""Jobs: the one job record (`job`), its store (`store`, SQLite) and the limits
(`ratelimit`)."""
