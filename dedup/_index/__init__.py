"""Front end: DedupIndex, a long-lived index of many documents, in memory, on disk or in Redis."""
