"""The demo program: the Python twin of Arthas math-game."""
