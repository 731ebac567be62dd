"""The instrumentation engine: sys.monitoring on 3.12+, exact-signature wrappers below."""
