"""Operations: Prometheus metrics, OpenTelemetry traces, request ids and usage accounting."""
