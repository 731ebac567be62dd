"""The command framework: tokeniser, declared argument specs, registry, and the command families."""
