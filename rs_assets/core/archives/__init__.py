"""Unpacking archives safely and replacing an item's archive assets with their content."""
