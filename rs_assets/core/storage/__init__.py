"""S3 as rs-assets uses it: the object store, verified transfers, direct signed requests, directory trees, the staging ledger and the bucket rules."""
