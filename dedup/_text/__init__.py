"""Stage 1, text: paragraphs, sentences and normalised word tokens, with offsets into the caller's string."""
