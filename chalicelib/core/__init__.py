"""Bottom layer: settings, errors, HTTP boundary, observability."""
