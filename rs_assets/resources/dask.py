import dagster as dg


def dask_for(scheduler: str | None) -> dg.ResourceDefinition:
    """dagster-dask's ``dask_resource`` over a configured cluster, or nothing: conversions then run in the run.

    A local Dask cluster on the same two cores would only add scheduling and copies to a conversion that eopf
    already parallelises, so the embedded default runs without one. dagster-dask is imported only when a
    cluster is configured: it pulls in dask.dataframe and pandas, seconds of start-up in every run process.
    """
    if not scheduler:
        return dg.ResourceDefinition.none_resource(description="no Dask cluster configured")
    from dagster_dask import dask_resource

    return dask_resource.configured({"client": {"address": scheduler}})
