"""The only code that touches the network: URLs, auth, the HTTP pool, SSE, Vertex errors.

Nothing here knows the gRPC contract.
"""
