"""Stage 3, verify: score candidate pairs (reference rules, batch scorer, compiled kernels) into links."""
