"""Sentinel-1 GRD terrain correction with sarsen, as an EOPF processing unit.

Modes: ``gtc`` (geometric terrain correction: beta nought on the DEM's grid) and ``rtc`` (radiometric terrain
correction by gamma flattening: gamma nought). The input is the EOPF ``S01SIWGRD`` product rs-assets converts
PRIP products to, not the legacy SAFE: the converted product is the one rs-assets keeps (the SAFE is an
intermediate), and eopf's runner opens a Zarr input lazily where a SAFE input would be converted again in
memory. The ADF is a DEM raster; the output is a Zarr product on the DEM's grid and CRS, with its own STAC
metadata (``stac_discovery``) as every EOPF product carries.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import xarray as xr
from eopf.computing.abstract import EOProcessingUnit
from eopf.computing.types import MappingAuxiliary, MappingDataType

from rs_assets.core.catalog.zarr_item import INHERITED

TASKTABLE = Path(__file__).parent / "tasktables" / "s1_terrain_correction.json"
GRD = "S01SIWGRD"
DEM = "DEM"
OUTPUTS = {"gtc": "S01SIWGTC", "rtc": "S01SIWRTC"}
RADIOMETRY = {"gtc": None, "rtc": "gamma_nearest"}
LONG_NAMES = {"gtc": "terrain-corrected beta nought", "rtc": "terrain-corrected gamma nought"}


def _product_node(tree: xr.DataTree) -> xr.DataTree:
    """The product inside an EOPF store: the root itself, or the container's child holding the GRD."""
    for node in tree.subtree:
        if "measurements" in node.children and "grd" in node["measurements"].data_vars:
            return node
    raise ValueError(f"input {tree.name!r} is not an EOPF GRD product: no measurements/grd")


def _sarsen_product(node: xr.DataTree, polarization: str) -> Any:
    import sarsen
    import xarray_sentinel

    @attrs.define(slots=False)
    class EopfGroundRange(sarsen.GroundRangeSarProduct):
        """sarsen's view of an EOPF S01S??GRD product, for one polarisation."""

        node: xr.DataTree
        polarization: str
        _beta_nought: xr.DataArray | None = attrs.field(default=None, init=False)

        def _group(self, path: str) -> xr.Dataset:
            dataset = self.node[path].to_dataset()
            if "polarization" in dataset.dims:
                dataset = dataset.sel(polarization=self.polarization).drop_vars("polarization")
            return dataset

        @property
        def product_type(self) -> str:
            return "GRD"

        def state_vectors(self) -> xr.DataArray:
            position = self._group("conditions/orbit").position.compute()
            return position.assign_coords(axis=np.arange(position.sizes["axis"])).transpose(
                "axis", "azimuth_time"
            )

        def beta_nought(self) -> xr.DataArray:
            if self._beta_nought is None:
                self._beta_nought = self._calibrated()
            return self._beta_nought

        def _calibrated(self) -> xr.DataArray:
            digital_number = self._group("measurements").grd.astype(np.float32)
            lut = self._group("quality/calibration").beta_nought.compute()
            mean = lut.mean()
            if np.allclose(mean, lut):
                calibration: Any = mean.astype(np.float32)
            else:
                calibration = lut.interp(
                    azimuth_time=digital_number.azimuth_time, ground_range=digital_number.ground_range
                ).astype(np.float32)
                calibration = calibration.chunk(digital_number.chunksizes)
            intensity = (digital_number / calibration) ** 2
            return intensity.assign_attrs(long_name="beta nought", units="m2 m-2")

        def slant_range_time_to_ground_range(
            self, azimuth_time: xr.DataArray, slant_range_time: xr.DataArray
        ) -> xr.DataArray:
            conversion = self._group("conditions/coordinate_conversion").compute()
            coefficients = conversion.srgr_coefficients
            legacy = xr.Dataset(
                {
                    "sr0": conversion.sr0,
                    "srgrCoefficients": coefficients.assign_coords(
                        degree=np.arange(coefficients.sizes["degree"])
                    ),
                }
            )
            return xarray_sentinel.slant_range_time_to_ground_range(azimuth_time, slant_range_time, legacy)

        def grid_parameters(self, grouping_area_factor: tuple[float, float] = (3.0, 3.0)) -> dict[str, Any]:
            image = _image_information(self.node, self.polarization)
            ground_range = self._group("measurements").ground_range.values
            properties = self.node.attrs.get("stac_discovery", {}).get("properties", {})
            range_spacing = float(properties.get("sar:pixel_spacing_range") or np.diff(ground_range[:2])[0])
            azimuth_spacing = float(properties.get("sar:pixel_spacing_azimuth") or range_spacing)
            return sarsen.sentinel1.azimuth_slant_range_grid(
                {
                    "product_type": "GRD",
                    "range_pixel_spacing": range_spacing,
                    "azimuth_pixel_spacing": azimuth_spacing,
                    "image_slant_range_time": float(image["slant_range_time"]),
                    "product_first_line_utc_time": image["product_first_line_utc_time"],
                    "azimuth_time_interval": float(image["azimuth_time_interval"]),
                },
                grouping_area_factor,
            )

    return EopfGroundRange(node, polarization)


def _image_information(node: xr.DataTree, polarization: str) -> dict[str, Any]:
    other = node.attrs.get("other_metadata", {})
    annotation = other.get(polarization) or next(iter(other.values()), {})
    return annotation["image_annotation"]["image_information"]


def _local_dem(adf: Any, folder: Path) -> Path:
    """The DEM on local disk: GDAL reads a local file; the ADF may be on S3."""
    path = str(adf.path)
    if "://" not in path:
        return Path(path)
    import fsspec

    options = (adf.adf_params or {}).get("storage_options", {})
    target = folder / Path(path.rstrip("/")).name
    with fsspec.open(path, "rb", **options) as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
    return target


def _chunk_size(dem_path: Path, preferred: int = 1024, overlap: int = 128) -> int:
    """A DEM chunk size whose last chunk is not thinner than the radiometric correction's overlap (sarsen's
    ``map_overlap`` refuses one), the preferred size when the DEM allows it."""
    import rasterio

    with rasterio.open(dem_path) as dem:
        sizes = (dem.width, dem.height)
    for size in range(preferred, 2 * preferred + 1):
        if all(n <= size or n % size == 0 or n % size >= overlap for n in sizes):
            return size
    return max(sizes)


def _footprint(raster: xr.DataArray) -> dict[str, Any]:
    from rasterio.warp import transform_bounds

    west, south, east, north = transform_bounds(raster.rio.crs, "EPSG:4326", *raster.rio.bounds())
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


class TerrainCorrection(EOProcessingUnit):
    """Terrain correction of a Sentinel-1 GRD product on a DEM (sarsen), in ``gtc`` or ``rtc`` mode."""

    PROCESSOR_NAME = "S1TerrainCorrection"
    PROCESSOR_VERSION = "1.0.0"
    PROCESSOR_LEVEL = "L2"
    PROCESSOR_CONTRACT = False

    @classmethod
    def get_available_modes(cls) -> list[str]:
        return list(OUTPUTS)

    @classmethod
    def get_default_mode(cls) -> str:
        return "gtc"

    @classmethod
    def get_mandatory_input_list(cls, mode: str | None = None, **kwargs: Any) -> list[str]:
        return [GRD]

    @classmethod
    def get_mandatory_adf_list(cls, mode: str | None = None, **kwargs: Any) -> list[str]:
        return [DEM]

    @classmethod
    def get_provided_output_list(cls, mode: str | None = None, **kwargs: Any) -> list[str]:
        return [OUTPUTS[mode or cls.get_default_mode()]]

    @classmethod
    def get_tasktable_description(cls, mode: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """One tasktable describes both modes (``eopf trigger tasktable`` asks for it)."""
        if mode not in (None, *OUTPUTS):
            raise KeyError(f"unknown mode {mode!r}; modes: {', '.join(OUTPUTS)}")
        return json.loads(TASKTABLE.read_text())

    def run(
        self,
        inputs: MappingDataType,
        adfs: MappingAuxiliary | None = None,
        mode: str | None = None,
        **parameters: Any,
    ) -> MappingDataType:
        import rioxarray  # noqa: F401  registers the .rio accessor
        from eopf.common.temp_utils import EOTemporaryFolder
        from sarsen import apps, scene

        mode = mode if mode in OUTPUTS else self.get_default_mode()
        if not adfs or DEM not in adfs:
            raise ValueError(f"{self.PROCESSOR_NAME}: the {DEM} ADF is required")
        grd = inputs[GRD]
        if not isinstance(grd, xr.DataTree):
            raise ValueError(f"{self.PROCESSOR_NAME}: input {GRD} must be one product")
        node = _product_node(grd)
        measurements = node["measurements"].to_dataset()
        polarization = str(parameters.get("polarization") or measurements.polarization.values[0])
        dem_path = _local_dem(adfs[DEM], Path(str(EOTemporaryFolder().get())))
        dem = scene.open_dem_raster(str(dem_path), chunks=_chunk_size(dem_path))
        geocoded, _ = apps.do_terrain_correction(
            _sarsen_product(node, polarization),
            dem,
            correct_radiometry=RADIOMETRY[mode],
            interp_method=parameters.get("interp_method", "nearest"),
            grouping_area_factor=tuple(parameters.get("grouping_area_factor", (3.0, 3.0))),
            seed_step=tuple(parameters["seed_step"]) if parameters.get("seed_step") else None,
        )
        # Regular chunks from the first one: Zarr refuses a first chunk smaller than the next (sarsen's may be).
        raster = geocoded.astype(np.float32).rename(mode).chunk({"y": 1024, "x": 1024})
        raster.attrs = {"long_name": LONG_NAMES[mode], "units": "m2 m-2", "polarization": polarization}
        raster = raster.rio.write_crs(dem.rio.crs)
        tree = xr.DataTree.from_dict({"/measurements": raster.to_dataset()})
        tree.attrs["stac_discovery"] = self._stac(node, raster, mode, polarization)
        tree.name = OUTPUTS[mode]
        return {OUTPUTS[mode]: tree}

    def _stac(self, node: xr.DataTree, raster: xr.DataArray, mode: str, polarization: str) -> dict[str, Any]:
        source = node.attrs.get("stac_discovery", {}).get("properties", {})
        kept = (*sorted(INHERITED), "sar:instrument_mode", "sar:frequency_band")
        epsg = raster.rio.crs.to_epsg()
        return {
            "type": "Feature",
            "stac_version": "1.1.0",
            "stac_extensions": [
                "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
                "https://stac-extensions.github.io/sar/v1.3.0/schema.json",
                "https://stac-extensions.github.io/sat/v1.1.0/schema.json",
                "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
                "https://stac-extensions.github.io/product/v1.0.0/schema.json",
            ],
            "geometry": _footprint(raster),
            "properties": {
                **{key: source[key] for key in kept if key in source},
                "product:type": OUTPUTS[mode],
                "sar:polarizations": [polarization],
                "proj:code": f"EPSG:{epsg}" if epsg else None,
                "proj:wkt2": None if epsg else raster.rio.crs.to_wkt(),
                "proj:bbox": list(raster.rio.bounds()),
                "proj:shape": [raster.sizes["y"], raster.sizes["x"]],
                "processing:level": self.PROCESSOR_LEVEL,
                "processing:software": {self.PROCESSOR_NAME: self.PROCESSOR_VERSION},
            },
            "assets": {mode: {"href": f"/measurements/{mode}", "title": LONG_NAMES[mode]}},
        }
