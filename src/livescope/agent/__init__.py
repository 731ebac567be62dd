"""The agent: HTTP and WebSocket server, the Arthas API actions, sessions and jobs."""
