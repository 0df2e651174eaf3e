"""Per-family backends: join a translator to the Vertex client for one capability."""
