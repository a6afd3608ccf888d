"""Loaders: recorded datasets and user files -> OutcomeTable."""
