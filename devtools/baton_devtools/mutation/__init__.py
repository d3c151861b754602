"""Mutation testing of the invariant modules (``make mutate``)."""
