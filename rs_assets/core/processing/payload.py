"""The EOPF triggering payload of a run: what ``eopf trigger local`` and ``EORunner`` execute.

Format of eopf 3 (``eopf/triggering/example/trigger.yaml``): ``workflow`` (one entry per unit), ``io`` with
``input_products``/``adfs``/``output_products`` (``engine``, ``reader_params``/``writer_params``/``adf_params``),
and a Dask context manager when a cluster is configured. The reference writes the section as ``I/O``; eopf 3
reads ``io``.

A payload names no credential: S3 paths carry only the endpoint and region, and every process that opens them
(the runner, a Dask worker) takes its keys from its own environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from .tasktable import IoEntry, Tasktable
from .units import PIPELINE_OUTPUT, UnitPlan

ENGINES = {
    "zarr": "cpm_zarr",
    "cpm_zarr": "cpm_zarr",
    "safe": "safe",
    "cpm_safe": "safe",
    "netcdf": "cpm_netcdf",
}
PATH_TYPES = {"filename": "file", "file": "file", "folder": "folder", "regex": "regex"}
WRITE_MODES = {"CREATE_OVERWRITE": "w", "CREATE": "w-"}
UNRESOLVED = "<resolved at run time>"


@dataclass(frozen=True)
class S3Access:
    """Where S3 is, never who we are there."""

    endpoint_url: str | None = None
    region_name: str | None = None

    def params(self, path: str, *, reading: bool = False) -> dict[str, Any]:
        if not path.startswith("s3://"):
            return {}
        client = {
            k: v for k, v in (("endpoint_url", self.endpoint_url), ("region_name", self.region_name)) if v
        }
        params: dict[str, Any] = {"storage_options": {"client_kwargs": client}} if client else {}
        if reading and (self.endpoint_url or "").startswith("http://"):
            params["use_obstore"] = False  # eopf reads S3 through obstore, which refuses plain HTTP endpoints
        return params


@dataclass(frozen=True)
class OutputTarget:
    """Where one output goes: a store path for ``filename`` outputs, a folder for ``folder`` ones."""

    name: str
    product_type: str
    collection: str
    bucket: str
    prefix: str
    path: str
    item_id: str | None

    @property
    def is_folder(self) -> bool:
        return self.item_id is None


def engine_of(entry: IoEntry | None) -> str | None:
    store_type = entry.store_type if entry else None
    return ENGINES.get(store_type, store_type) if store_type else None


def _path_type(entry: IoEntry | None, default: str = "file") -> str:
    return PATH_TYPES.get(entry.type, default) if entry else default


def _input(tasktable: Tasktable, name: str, path: str, access: S3Access) -> dict[str, Any]:
    entry = tasktable.io_entry(name)
    described: dict[str, Any] = {"id": name, "path": path, "type": _path_type(entry)}
    if engine_of(entry):
        described["engine"] = engine_of(entry)
    reader = {**(entry.store_params if entry else {}), **access.params(path, reading=True)}
    if reader:
        described["reader_params"] = reader
    return described


def _output(tasktable: Tasktable, target: OutputTarget, access: S3Access) -> dict[str, Any]:
    entry = tasktable.io_entry(target.name)
    writer = {**(entry.store_params if entry else {}), **access.params(target.path)}
    writer["mode"] = WRITE_MODES.get((entry.opening_mode if entry else None) or "", "w")
    return {
        "id": target.name,
        "path": target.path,
        "type": "folder" if target.is_folder else "file",
        "engine": engine_of(entry) or "cpm_zarr",
        "writer_params": writer,
    }


def build_payload(
    plan: UnitPlan,
    *,
    inputs: Mapping[str, str],
    adfs: Mapping[str, str],
    outputs: Mapping[str, OutputTarget],
    access: S3Access = S3Access(),
    modules: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    dask_address: str | None = None,
    run_id: str = "",
) -> dict[str, Any]:
    """The payload for ``plan``: ``inputs``/``adfs`` map io names to paths, ``outputs`` to their targets."""
    tasktable = plan.tasktable
    workflow = []
    for unit in plan.units:
        declared = {use.name: use for use in tasktable.unit(unit.name).output_products}
        step: dict[str, Any] = {
            "name": unit.name,
            "module": (modules or {}).get(unit.name, unit.module),
            "processing_unit": unit.name,
            "active": True,
            "validate": False,
            "inputs": dict(unit.inputs),
            "adfs": {adf: adf for adf in unit.adfs},
            "outputs": {
                (declared[name].regex or name) if name in declared else name: name
                for name, role in unit.outputs.items()
                if role == PIPELINE_OUTPUT
            },
            "parameters": {**(parameters or {}), **unit.parameters},
        }
        if plan.mode:
            step["mode"] = plan.mode
        workflow.append(step)
    payload: dict[str, Any] = {
        "general_configuration": {
            "triggering__id": run_id,
            "triggering__use_basic_logging": True,
            "triggering__validate_run": False,
            "triggering__use_default_filename": False,
            "triggering__error_policy": "FAIL_FAST",
            "triggering__wait_before_exit": 0,
        },
        "workflow": workflow,
        "io": {
            "input_products": [_input(tasktable, name, path, access) for name, path in inputs.items()],
            "adfs": [
                {"id": name, "path": path, "adf_params": access.params(path)} for name, path in adfs.items()
            ],
            "output_products": [_output(tasktable, target, access) for target in outputs.values()],
        },
    }
    if dask_address:
        payload["context_managers"] = [
            {
                "module": "eopf.dask_utils.dask_context_manager",
                "context_manager": "DaskContext",
                "parameters": {"cluster_type": "address", "client_config": {"address": dask_address}},
            }
        ]
    return payload


def skeleton(plan: UnitPlan, owner: str = "{owner}") -> dict[str, Any]:
    """The payload before any service is asked: inputs, ADFs and output locations left unresolved."""
    return build_payload(
        plan,
        inputs={name: UNRESOLVED for name in plan.inputs},
        adfs={name: UNRESOLVED for name in plan.adfs},
        outputs={
            name: OutputTarget(
                name, name, "{collection}", "{bucket}", "", f"s3://{{bucket}}/{owner}/{{collection}}/...", ""
            )
            for name in plan.outputs
        },
    )


def to_yaml(payload: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(payload), sort_keys=False, default_flow_style=False)
