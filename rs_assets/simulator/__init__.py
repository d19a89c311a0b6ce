"""An ICD-strict CADIP/AUXIP/PRIP station simulator for development, tests and benchmarks."""
