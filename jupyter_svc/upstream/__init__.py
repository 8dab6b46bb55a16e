"""The pooled HTTP/1.1 client that the proxy and the readiness probes share."""
