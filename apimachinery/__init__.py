"""Shared object machinery: the object model, validation, quantities, selectors,
errors and serialization. Every component depends on it; it depends on no component."""
