"""The EOPF triggering payload of a run: what ``eopf trigger local`` and ``EORunner`` execute.

Format of eopf 3 (``eopf/triggering/example/trigger.yaml``): ``workflow`` (one entry per unit), ``io`` with
``input_products``/``adfs``/``output_products`` (``engine``, ``reader_params``/``writer_params``/``adf_params``).
The reference writes the section as ``I/O``; eopf 3 reads ``io``.

A run reads local copies of its inputs and ADFs and writes its outputs locally (see ``job``), so the paths are
relative to the run's working directory; the ``rs_assets`` section, which eopf ignores, says which object each
path is a copy of, or where it is uploaded. A payload names no credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
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
class OutputTarget:
    """Where one output goes: a store under ``prefix`` for ``filename`` outputs, stores in it for ``folder`` ones."""

    name: str
    product_type: str
    collection: str
    bucket: str
    prefix: str
    item_id: str | None

    @property
    def is_folder(self) -> bool:
        return self.item_id is None

    @property
    def key(self) -> str:
        """The store's key, or the folder's prefix."""
        return f"{self.prefix}{self.item_id}.zarr" if self.item_id else self.prefix

    @property
    def href(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def local(self) -> str:
        """Where the run writes it, relative to its working directory."""
        return f"outputs/{self.name}/{self.item_id}.zarr" if self.item_id else f"outputs/{self.name}/"


def local_copy(kind: str, name: str, href: str) -> str:
    """Where a run finds its copy of an input or ADF, relative to its working directory."""
    return f"{kind}/{name}/{PurePosixPath(href.rstrip('/')).name}"


def engine_of(entry: IoEntry | None) -> str | None:
    store_type = entry.store_type if entry else None
    return ENGINES.get(store_type, store_type) if store_type else None


def _path_type(entry: IoEntry | None, default: str = "file") -> str:
    return PATH_TYPES.get(entry.type, default) if entry else default


def _input(tasktable: Tasktable, name: str, path: str) -> dict[str, Any]:
    entry = tasktable.io_entry(name)
    described: dict[str, Any] = {"id": name, "path": path, "type": _path_type(entry)}
    if engine_of(entry):
        described["engine"] = engine_of(entry)
    if entry and entry.store_params:
        described["reader_params"] = dict(entry.store_params)
    return described


def _output(tasktable: Tasktable, target: OutputTarget) -> dict[str, Any]:
    entry = tasktable.io_entry(target.name)
    writer = dict(entry.store_params) if entry else {}
    writer["mode"] = WRITE_MODES.get((entry.opening_mode if entry else None) or "", "w")
    return {
        "id": target.name,
        "path": target.local,
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
    modules: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    run_id: str = "",
) -> dict[str, Any]:
    """The payload for ``plan``: ``inputs``/``adfs`` map io names to the objects (hrefs) the run reads a copy
    of, ``outputs`` to their targets."""
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
    return {
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
            "input_products": [
                _input(tasktable, name, local_copy("inputs", name, href)) for name, href in inputs.items()
            ],
            "adfs": [{"id": name, "path": local_copy("adfs", name, href)} for name, href in adfs.items()],
            "output_products": [_output(tasktable, target) for target in outputs.values()],
        },
        "rs_assets": {
            "inputs": dict(inputs),
            "adfs": dict(adfs),
            "outputs": {name: target.href for name, target in outputs.items()},
        },
    }


def skeleton(plan: UnitPlan, owner: str = "{owner}") -> dict[str, Any]:
    """The payload before any service is asked: inputs, ADFs and output locations left unresolved."""
    return build_payload(
        plan,
        inputs={name: UNRESOLVED for name in plan.inputs},
        adfs={name: UNRESOLVED for name in plan.adfs},
        outputs={
            name: OutputTarget(
                name, name, "{collection}", "{bucket}", f"{owner}/{{collection}}/{{item}}/", "{item}"
            )
            for name in plan.outputs
        },
    )


def to_yaml(payload: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(payload), sort_keys=False, default_flow_style=False)
