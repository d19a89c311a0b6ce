"""Which converter turns a legacy product into EOPF Zarr, chosen by rules on the product.

As GeoSPaaS's ``ParameterSelector``: each rule says when it applies and what to run, the first match wins,
and rules added later take precedence. A converter is named by a dotted path (``package.module:function``)
so that the choice travels to a Dask worker as a string and a family can get a native converter by
configuration, without touching the assets. A converter is ``function(source: Path, target_dir: Path) -> Path``:
it writes one store under ``target_dir`` and returns its path.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RsAssetsError
from .product_types import eopf_type_of_product, legacy_type_of

EOPF = "rs_assets.core.conversion.converters:convert_with_eopf"

ConverterFunction = Callable[[Path, Path], Path]


class ConverterUnavailable(RsAssetsError):
    """The converter a rule chose is not installed here."""


class ConversionFailed(RsAssetsError):
    """The converter ran and could not convert the product."""


@dataclass(frozen=True)
class ProductInfo:
    """What converter rules look at."""

    name: str
    legacy_type: str
    eopf_type: str

    @property
    def mission(self) -> str:
        return self.eopf_type[:3]

    @classmethod
    def of(cls, name: str, legacy_type: str | None = None) -> ProductInfo:
        legacy = legacy_type or legacy_type_of(name)
        return cls(name, legacy, eopf_type_of_product(name, legacy))


@dataclass(frozen=True)
class ConverterRule:
    converter: str
    matches: Callable[[ProductInfo], bool]
    description: str


def for_types(eopf_types: Sequence[str]) -> Callable[[ProductInfo], bool]:
    wanted = frozenset(eopf_types)
    return lambda product: "*" in wanted or product.eopf_type in wanted


@dataclass
class ConverterRegistry:
    rules: list[ConverterRule] = field(default_factory=list)

    def register(self, converter: str, matches: Callable[[ProductInfo], bool], description: str) -> None:
        """Add a rule that takes precedence over the ones already there."""
        self.rules.insert(0, ConverterRule(converter, matches, description))

    def select(self, product: ProductInfo) -> str:
        for rule in self.rules:
            if rule.matches(product):
                return rule.converter
        raise ConverterUnavailable(
            f"no converter rule matches {product.name} ({product.legacy_type} -> {product.eopf_type}); "
            f"rules: {', '.join(r.description for r in self.rules) or 'none'}"
        )


def default_registry() -> ConverterRegistry:
    """``eopf`` for every type of the table (it maps them all)."""
    return ConverterRegistry([ConverterRule(EOPF, for_types(["*"]), "eopf for every mapped type")])


def load_converter(path: str) -> ConverterFunction:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise RsAssetsError(f"converter {path!r} is not of the form package.module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConverterUnavailable(f"converter {path} is not installed: {exc}") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ConverterUnavailable(f"converter {path}: {module_name} has no function {attribute!r}")
    return function


@contextmanager
def _quiet(logger_name: str, level: int = logging.WARNING) -> Iterator[None]:
    """eopf logs each product's whole metadata at INFO, and evaluates its mapping files' expressions, whose
    non-raw ``'\\.'`` strings raise a SyntaxWarning per product: keep run logs and consoles readable."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(level)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "invalid escape sequence", SyntaxWarning, module="<unknown>")
            yield
    finally:
        logger.setLevel(previous)


def convert_with_eopf(source: Path, target_dir: Path) -> Path:
    """EOPF Core's own SAFE -> Zarr conversion, the store named after the product id it computes."""
    try:
        from eopf.store.convert import NamingStrategy, convert
    except ImportError as exc:
        raise ConverterUnavailable(
            f"the eopf converter is not installed (install rs-assets[eopf]): {exc}"
        ) from None
    target_dir.mkdir(parents=True, exist_ok=True)
    with _quiet("eopf"):
        try:
            convert(
                str(source),
                str(target_dir),
                target_store_kwargs={"engine": "cpm_zarr"},
                naming_strategy=NamingStrategy.PRODUCT_ID,
            )
        except Exception as exc:  # eopf raises many unrelated types for unreadable input
            raise ConversionFailed(
                f"eopf could not convert {source.name}: {type(exc).__name__}: {exc}"
            ) from None
    stores = sorted(p for p in target_dir.iterdir() if p.name.endswith(".zarr"))
    if len(stores) != 1:
        raise ConversionFailed(
            f"eopf wrote {len(stores)} stores for {source.name}, expected one: {[p.name for p in stores]}"
        )
    return stores[0]
