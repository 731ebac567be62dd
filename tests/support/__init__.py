"""Helpers shared by the test suite: real target processes, interpreters, API clients."""
