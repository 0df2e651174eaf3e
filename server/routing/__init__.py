"""Model string -> Route: aliases, the model registry, allow-list and capability checks."""
