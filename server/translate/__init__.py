"""Pure translators: typed requests -> Vertex JSON, Vertex JSON -> typed replies. No I/O."""
