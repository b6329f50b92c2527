"""The rewrite framework: passes that transform a FunctionGraph in place."""
