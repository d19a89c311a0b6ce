"""How a Dagster instance runs rs-assets: its configuration and, on one machine, its run launcher."""
