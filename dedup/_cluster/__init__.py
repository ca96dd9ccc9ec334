"""Stage 4, cluster: links into matches, matches into passages, passages into ranked clusters."""
