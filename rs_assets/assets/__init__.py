"""Software-defined assets, one module per family."""
