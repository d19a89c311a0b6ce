"""rs-assets: Copernicus ground-segment data as Dagster software-defined assets."""
