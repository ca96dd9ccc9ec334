"""Front end: corpus mode, millions of documents streamed in passes with bounded memory."""
