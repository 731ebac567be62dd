"""The mesh gateway: a distributed WebSocket push gateway (spec/004), in-memory or on Redis."""
