"""Legacy SAFE products to EOPF Zarr: the converters, the run, quicklooks and the product-type table."""
