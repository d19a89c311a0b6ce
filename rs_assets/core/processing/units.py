"""Which units run, in which order, wired to what: a pipeline's steps, or one unit alone, in a processing mode.

As the reference's ``build_unit_list``: a step's input is either ``pipeline_input`` (the product given to the
run, named like the input) or ``unit.output`` (what an earlier step produced). Inputs, ADFs and outputs whose
``mode`` is neither ``always`` nor the chosen mode are left out. Every inconsistency is reported before anything
runs, naming the tasktable, the step and the product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .tasktable import ProductUse, Step, Tasktable, TasktableError, Unit

PIPELINE_INPUT = "pipeline_input"
PIPELINE_OUTPUT = "pipeline_output"
PIPELINE_INTERNAL = "pipeline_internal"


@dataclass(frozen=True)
class PlannedUnit:
    step: int
    name: str
    module: str
    mode: str | None
    inputs: dict[str, str]
    adfs: tuple[str, ...]
    outputs: dict[str, str]
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def pipeline_inputs(self) -> list[str]:
        return [source for source in self.inputs.values() if "." not in source]

    @property
    def pipeline_outputs(self) -> list[str]:
        return [name for name, role in self.outputs.items() if role == PIPELINE_OUTPUT]


@dataclass(frozen=True)
class UnitPlan:
    tasktable: Tasktable
    pipeline: str | None
    unit: str | None
    mode: str | None
    units: tuple[PlannedUnit, ...]

    @property
    def inputs(self) -> list[str]:
        """The products a run must be given, named as the tasktable's ``io`` names them."""
        return list(dict.fromkeys(name for unit in self.units for name in unit.pipeline_inputs))

    @property
    def outputs(self) -> list[str]:
        return list(dict.fromkeys(name for unit in self.units for name in unit.pipeline_outputs))

    @property
    def adfs(self) -> list[str]:
        return list(dict.fromkeys(name for unit in self.units for name in unit.adfs))

    @property
    def run(self) -> str:
        what = f"pipeline {self.pipeline}" if self.pipeline else f"unit {self.unit}"
        return f"{what}, mode {self.mode or 'always'}"

    @property
    def label(self) -> str:
        return f"{self.tasktable.name} {self.tasktable.version}, {self.run}"

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "step": u.step,
                "unit": u.name,
                "module": u.module,
                "inputs": u.inputs,
                "adfs": list(u.adfs),
                "outputs": u.outputs,
            }
            for u in self.units
        ]


def _fail(tasktable: Tasktable, message: str) -> TasktableError:
    return TasktableError(f"tasktable {tasktable.source}: {message}")


def _check_mode(tasktable: Tasktable, mode: str | None) -> None:
    if mode is None or mode in tasktable.modes:
        return
    known = ", ".join(tasktable.modes) or "none besides always"
    raise _fail(tasktable, f"unknown processing mode {mode!r}; modes: {known}")


def build_units(
    tasktable: Tasktable, *, pipeline: str | None = None, unit: str | None = None, mode: str | None = None
) -> UnitPlan:
    """The units to run for ``pipeline`` or ``unit`` (the only pipeline when neither is given)."""
    if pipeline and unit:
        raise _fail(tasktable, f"give a pipeline or a unit, not both ({pipeline!r}, {unit!r})")
    _check_mode(tasktable, mode)
    if not pipeline and not unit:
        if len(tasktable.pipelines) == 1:
            pipeline = tasktable.pipelines[0].name
        elif not tasktable.pipelines and len(tasktable.units) == 1:
            unit = tasktable.units[0].name
        else:
            names = ", ".join(p.name for p in tasktable.pipelines) or "none"
            raise _fail(tasktable, f"name the pipeline or unit to run; pipelines: {names}")
    planned = _pipeline(tasktable, pipeline, mode) if pipeline else [_single(tasktable, unit or "", mode)]
    plan = UnitPlan(tasktable, pipeline, unit, mode, tuple(planned))
    if not plan.outputs:
        modes = ", ".join(tasktable.modes) or "always"
        raise _fail(tasktable, f"{plan.run} produces no output (modes: {modes})")
    return plan


def _single(tasktable: Tasktable, name: str, mode: str | None) -> PlannedUnit:
    unit = tasktable.unit(name)
    return PlannedUnit(
        step=1,
        name=unit.name,
        module=unit.module,
        mode=mode,
        inputs={u.name: u.name for u in unit.input_products if u.active_in(mode)},
        adfs=tuple(u.name for u in unit.input_adfs if u.active_in(mode)),
        outputs={u.name: PIPELINE_OUTPUT for u in unit.output_products if u.active_in(mode)},
    )


def _pipeline(tasktable: Tasktable, name: str, mode: str | None) -> list[PlannedUnit]:
    pipeline = tasktable.pipeline(name)
    ordered = sorted(enumerate(pipeline.steps), key=lambda pair: (pair[1].rank, pair[0]))
    planned: list[PlannedUnit] = []
    produced: set[str] = set()
    for number, (_, step) in enumerate(ordered, start=1):
        unit = tasktable.unit(step.unit_name)
        where = f"pipeline {name} step {number} ({unit.name})"
        inputs = _wire_inputs(tasktable, step, unit, mode, produced, where)
        outputs = _wire_outputs(tasktable, step, unit, mode, where)
        produced.update(f"{unit.name}.{output}" for output in outputs)
        planned.append(
            PlannedUnit(
                step=number,
                name=unit.name,
                module=unit.module,
                mode=mode,
                inputs=inputs,
                adfs=tuple(u.name for u in unit.input_adfs if u.active_in(mode)),
                outputs=outputs,
                parameters=dict(step.parameters),
            )
        )
    return planned


def _declared(tasktable: Tasktable, uses: Sequence[ProductUse], name: str, problem: str) -> ProductUse:
    """The unit's declaration of ``name``: a step may wire only what its unit declares."""
    for use in uses:
        if use.name == name:
            return use
    raise _fail(tasktable, problem)


def _wire_inputs(
    tasktable: Tasktable, step: Step, unit: Unit, mode: str | None, produced: set[str], where: str
) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for name, source in step.input_products.items():
        if not _declared(
            tasktable, unit.input_products, name, f"{where}: {name!r} is not an input of unit {unit.name}"
        ).active_in(mode):
            continue
        if source == PIPELINE_INPUT:
            inputs[name] = name
        elif source in produced:
            inputs[name] = source
        else:
            raise _fail(
                tasktable,
                f"{where}: input {name!r} comes from {source!r}, which no earlier step produces "
                f"(earlier outputs: {', '.join(sorted(produced)) or 'none'})",
            )
    missing = [
        u.name for u in unit.input_products if u.mandatory and u.active_in(mode) and u.name not in inputs
    ]
    if missing:
        raise _fail(tasktable, f"{where}: mandatory inputs not wired: {', '.join(missing)}")
    return inputs


def _wire_outputs(
    tasktable: Tasktable, step: Step, unit: Unit, mode: str | None, where: str
) -> dict[str, str]:
    outputs: dict[str, str] = {}
    for name, role in step.output_products.items():
        use = _declared(
            tasktable, unit.output_products, name, f"{where}: {name!r} is not an output of unit {unit.name}"
        )
        if role not in (PIPELINE_OUTPUT, PIPELINE_INTERNAL):
            raise _fail(
                tasktable,
                f"{where}: output {name!r} is {role!r}, expected {PIPELINE_OUTPUT} or {PIPELINE_INTERNAL}",
            )
        if use.active_in(mode):
            outputs[name] = role
    return outputs
