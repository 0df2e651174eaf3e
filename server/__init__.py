"""vertex-gateway: a typed gRPC gateway to Google Vertex AI."""

__version__ = "0.1.0"
