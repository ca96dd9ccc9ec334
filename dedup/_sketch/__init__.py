"""Stage 2, sketch: shingles of each sentence, MinHash signatures, LSH band keys and candidate pairs."""
