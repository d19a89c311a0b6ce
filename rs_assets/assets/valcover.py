"""What a product family has once, whatever its stations: on-demand ValCover staging across every station of the
kind that serves the product type (the RS on-demand staging flows), and the automation of its downstream steps.

The ValCover step holds no station pool of its own: its searches and downloads lease each station's slot in turn.
"""

import dagster as dg
from pydantic import Field

from rs_assets.assets.automation import RUN_RETRIES, automation_sensor
from rs_assets.assets.products import ProductFamily
from rs_assets.assets.reporting import fail_if_any, failure_list, staging_metadata
from rs_assets.assets.stations import asset_key
from rs_assets.core.staging.products import ValCoverWindow, stage_valcover
from rs_assets.core.timeutil import parse_datetime
from rs_assets.resources import CatalogResource, ObjectStorage, StationsResource
from rs_assets.resources.services import pool_lease, services_of


class ValCoverConfig(dg.Config):
    start: str = Field(description="Window start, e.g. 2025-08-07T11:51:12.509Z")
    stations: list[str] = Field(default_factory=list, description="Only these stations (default: every one)")
    end: str = Field(description="Window end")
    product_type: str = Field(description="Product type, e.g. AUX_PP2 or IW_GRDH_1S")
    collection: str = Field(description="Target catalog collection (without owner prefix)")
    latest: bool = Field(False, description="LatestValCover: keep only the most recently created product")
    delta_before: float = Field(0.0, description="dTa margin in seconds")
    delta_after: float = Field(0.0, description="dTb margin in seconds")


def build_family_jobs(family: ProductFamily, station_names: list[str]) -> dg.Definitions:
    """What a family has once whatever its stations: ValCover staging across them, and the automation."""

    @dg.op(
        name=f"stage_{family.short}_valcover",
        description=f"Stage the {family.what} whose validity strictly contains a window, from every {family.kind.upper()} "
        "that serves the product type.",
    )
    def valcover_op(
        context: dg.OpExecutionContext,
        config: ValCoverConfig,
        stations: StationsResource,
        storage: ObjectStorage,
        catalog: CatalogResource,
    ) -> dg.Output[list[str]]:
        start, end = parse_datetime(config.start), parse_datetime(config.end)
        if start is None or end is None:
            raise dg.Failure("start and end are required")
        window = ValCoverWindow(start, end, config.product_type, config.delta_before, config.delta_after)
        staged = stage_valcover(
            [stations.client(name) for name in config.stations or station_names],
            services_of(storage, catalog, pool_lease(context)),
            window,
            latest=config.latest,
            collection=config.collection,
            task=family.task,
            on_planned=lambda n: context.log.info(
                f"ValCover {config.product_type} [{config.start}, {config.end}]: {n} to stage"
            ),
        )
        items = staged.items
        for note in staged.lax:
            context.log.warning(note)
        metadata = staging_metadata(staged.report) | {
            "selected": dg.MetadataValue.int(len(staged.selected)),
            "already_in_catalog": dg.MetadataValue.int(len(staged.already)),
            "stations": dg.MetadataValue.json(staged.stations),
            "outside_the_selection": failure_list(staged.lax),
            "items": dg.MetadataValue.json(
                [{"id": i["id"], "assets": {k: a["href"] for k, a in i["assets"].items()}} for i in items]
            ),
        }
        fail_if_any(staged.report, "ValCover staging", metadata)
        return dg.Output([i["id"] for i in items], metadata=metadata)

    @dg.job(
        name=family.valcover_job,
        description=f"On-demand ValCover/LatestValCover staging of {family.what} (the RS on-demand staging flows).",
        tags=RUN_RETRIES,
    )
    def valcover_staging() -> None:
        valcover_op()

    automation = automation_sensor(
        f"{family.group}_automation",
        dg.AssetSelection.assets(
            *[asset_key(s, n) for s in station_names for n in (family.published, family.unpacked)]
        ),
    )
    return dg.Definitions(jobs=[valcover_staging], sensors=[automation])
