"""Domain logic of rs-assets: plain Python, never imports dagster."""
