import dagster as dg
from dagster_dask import dask_resource


def dask_for(scheduler: str | None) -> dg.ResourceDefinition:
    """dagster-dask's ``dask_resource``: a remote scheduler when given, else a small local cluster.

    The cluster only starts when an asset asks for the resource, so runs that never convert pay nothing.
    """
    if scheduler:
        return dask_resource.configured({"scheduler": scheduler})
    return dask_resource.configured({"cluster": {"local": {"n_workers": 1, "threads_per_worker": 2}}})
