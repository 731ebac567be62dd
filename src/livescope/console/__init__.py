"""The terminal console and one-shot exec client, with text views of every result model."""
