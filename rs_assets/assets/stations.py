import dagster as dg

from rs_assets.settings import StationsFile

KIND_DESCRIPTIONS = {
    "cadip": "CADIP station publishing satellite downlink sessions and their chunk files",
    "auxip": "AUXIP station publishing auxiliary data files",
    "prip": "PRIP station publishing legacy SAFE products",
}


def station_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["station", name])


def station_prefix(station: str) -> str:
    """What every name of a station's definitions starts with (``ADGS`` -> ``adgs``)."""
    return station.lower()


def asset_key(station: str, name: str) -> dg.AssetKey:
    return dg.AssetKey([station_prefix(station), name])


def station_specs(stations: StationsFile) -> list[dg.AssetSpec]:
    """External source assets: what the stations publish, upstream of everything rs-assets materializes."""
    return [
        dg.AssetSpec(
            station_key(s.name),
            description=f"{KIND_DESCRIPTIONS[s.kind]} ({s.name}).",
            group_name="stations",
            kinds={"odata", s.kind},
            metadata={"base_url": dg.MetadataValue.url(str(s.base_url)), "profile": s.profile},
        )
        for s in stations.stations
    ]
