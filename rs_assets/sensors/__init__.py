"""Sensors: one cursor sensor per station, automation sensors per family."""
