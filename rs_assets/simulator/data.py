"""Deterministic station contents: CADIP sessions and files (historical and live), AUXIP and PRIP products.

Every record is a dict in the station's JSON form plus private ``_`` keys (when it becomes visible, how to
produce its bytes) that are stripped before serving. The same seed always yields the same records and bytes.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rs_assets.core.conversion.product_types import legacy_type_of
from rs_assets.core.timeutil import format_datetime, utcnow
from rs_assets.simulator.config import SimStation, SimulatorConfig
from rs_assets.simulator.content import PatternContent, build_product, zip_directory
from rs_assets.simulator.samples import sample

Record = dict[str, Any]

EVICTION = timedelta(days=7)
SESSION_FIELDS = {
    "Id", "SessionId", "NumChannels", "PublicationDate", "Satellite", "StationUnitId", "DownlinkOrbit",
    "AcquisitionId", "AntennaId", "FrontEndId", "Retransfer", "AntennaStatusOK", "FrontEndStatusOK",
    "PlannedDataStart", "PlannedDataStop", "DownlinkStart", "DownlinkStop", "DownlinkStatusOK",
    "DeliveryPushOK", "QualityInfo",
}  # fmt: skip
FILE_FIELDS = {
    "Id", "Name", "SessionId", "SessionID", "Channel", "BlockNumber", "FinalBlock", "PublicationDate",
    "EvictionDate", "Size", "Retransfer",
}  # fmt: skip
PRODUCT_FIELDS = {
    "Id", "Name", "ContentType", "ContentLength", "OriginDate", "PublicationDate", "EvictionDate",
    "ModificationDate", "Online", "ProductionType", "Checksum", "ContentDate", "Footprint", "GeoFootprint",
    "Attributes",
}  # fmt: skip

AUX_TYPES = [
    ("S1", "AUX_CAL", "{sat}_AUX_CAL_V{start}_G{created}.SAFE.zip"),
    ("S1", "AUX_PP2", "{sat}_AUX_PP2_V{start}_G{created}.SAFE.zip"),
    ("S1", "AUX_RESORB", "{sat}_OPER_AUX_RESORB_OPOD_{created}_V{start}_{stop}.EOF"),
    ("S2", "AUX_ECMWFD", "{sat}_OPER_AUX_ECMWFD_ADG__{created}_V{start}_{stop}.TGZ"),
    ("S2", "AUX_UT1UTC", "{sat}_OPER_AUX_UT1UTC_ADG__{created}_V{start}_{stop}.tar"),
    (
        "S3",
        "AX___FRO_AX",
        "{sat}_AX___FRO_AX_{start}_{stop}_{created}___________________EUM_O_AL_001.SEN3.tar.gz",
    ),
]
SATELLITES = {"S1": ["S1A", "S1C"], "S2": ["S2A", "S2B"], "S3": ["S3A", "S3B"]}


def _compact(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def _uuid(seed: int, *parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, ":".join(str(p) for p in (seed, *parts))))


class StationData:
    """The records of one simulated station."""

    def __init__(
        self, config: SimulatorConfig, station: SimStation, pattern: PatternContent, live_start: datetime
    ):
        self.config = config
        self.live_start = live_start
        self.station = station
        self.pattern = pattern
        self.seed = config.seed + int(hashlib.sha256(station.name.encode()).hexdigest()[:6], 16)
        self.sessions: list[Record] = []
        self.files: list[Record] = []
        self.products: list[Record] = []
        self.blobs: dict[str, bytes] = {}
        self._live_built = 0
        self._lock = threading.Lock()
        self._files_index: list[tuple[datetime, int, Record]] = []
        self._products_index: list[tuple[datetime, int, Record]] = []
        self._by_id: dict[str, Record] = {}
        self._by_name: dict[str, Record] = {}
        if station.kind == "cadip":
            self._build_history()
        else:
            self._build_products()
        self._reindex()

    def _reindex(self) -> None:
        self._files_index = sorted((f["_visible"], n, f) for n, f in enumerate(self.files))
        self._products_index = sorted((p["_visible"], n, p) for n, p in enumerate(self.products))
        downloadable = self.files if self.station.kind == "cadip" else self.products
        self._by_id = {r["Id"]: r for r in downloadable}
        self._by_name = {r["Name"]: r for r in downloadable}

    # -- visibility ---------------------------------------------------------------------------------------

    def published_since(self, entity: str, now: datetime, bound: datetime) -> tuple[list[Record], set[str]]:
        """``entity_set`` through a publication-date index, as a station's database would answer."""
        if entity == "Sessions" or (entity == "Files") != (self.station.kind == "cadip"):
            return self.entity_set(entity, now)
        self._build_live(now)
        index = self._files_index if entity == "Files" else self._products_index
        start = bisect.bisect_left(index, (bound,))
        fields = FILE_FIELDS if entity == "Files" else PRODUCT_FIELDS
        return [record for _, _, record in index[start:] if record["_visible"] <= now], fields

    def publish_session(self, rng: random.Random, index: int, start: datetime) -> None:
        """Publish one more (non-live) session now: for tests and benchmarks that need new data on demand."""
        self._add_session(rng, index, start, retransfer=False, live=False)
        self._reindex()

    def publish_aux(self, rng: random.Random, published: datetime) -> None:
        self._add_aux(rng, published)
        self._reindex()

    def entity_set(self, entity: str, now: datetime) -> tuple[list[Record], set[str]]:
        if entity == "Sessions" and self.station.kind == "cadip":
            self._build_live(now)
            return [_session_view(s, now) for s in self.sessions if s["_visible"] <= now], SESSION_FIELDS
        if entity == "Files" and self.station.kind == "cadip":
            self._build_live(now)
            return [f for f in self.files if f["_visible"] <= now], FILE_FIELDS
        if entity == "Products" and self.station.kind != "cadip":
            return [p for p in self.products if p["_visible"] <= now], PRODUCT_FIELDS
        raise KeyError(entity)

    def find_download(self, entity: str, entity_id: str, now: datetime) -> Record | None:
        """A visible File (CADIP) or Product (the others) by Id, through an index as a station's database."""
        if (entity == "Files") != (self.station.kind == "cadip") or entity not in ("Files", "Products"):
            return None
        self._build_live(now)
        return self._visible(self._by_id.get(entity_id), now)

    def find_by_name(self, name: str, now: datetime) -> Record | None:
        self._build_live(now)
        return self._visible(self._by_name.get(name), now)

    @staticmethod
    def _visible(record: Record | None, now: datetime) -> Record | None:
        return record if record is not None and record["_visible"] <= now else None

    # -- CADIP --------------------------------------------------------------------------------------------

    def _build_history(self) -> None:
        st = self.station
        rng = random.Random(self.seed)
        span = timedelta(days=st.days)
        start = self.config.history_end - span
        for index in range(st.sessions):
            downlink_start = start + span * (index + 0.5) / max(st.sessions, 1) - timedelta(minutes=15)
            retransfer = index >= st.sessions - st.retransfers
            self._add_session(rng, index, downlink_start, retransfer=retransfer, live=False)

    def _build_live(self, now: datetime) -> None:
        st = self.station
        if st.live_every is None:
            return
        with self._lock:
            while self._live_built < st.live_sessions:
                downlink_start = self.live_start + timedelta(seconds=st.live_every * self._live_built)
                if downlink_start > now:
                    return
                rng = random.Random(f"{self.seed}:live:{self._live_built}")
                self._add_session(
                    rng, st.sessions + self._live_built, downlink_start, retransfer=False, live=True
                )
                self._live_built += 1
                self._reindex()

    def _add_session(
        self, rng: random.Random, index: int, start: datetime, *, retransfer: bool, live: bool
    ) -> None:
        st = self.station
        satellite = st.satellites[index % len(st.satellites)]
        duration = timedelta(seconds=st.live_duration if live else 150)
        stop = start + duration
        acquisition = rng.randint(10_000, 99_999)
        session_id = f"{satellite}_{start.strftime('%Y%m%d%H%M%S')}{acquisition:06d}"
        unit = rng.randint(1, 9)
        first = start + duration * (40 / 150)
        last = stop + duration * (60 / 150)
        blocks = st.blocks_per_channel
        files: list[Record] = []
        for channel in range(1, st.channels + 1):
            for block in range(1, blocks + 1):
                final = block == blocks
                size = (
                    st.chunk_size
                    if not final
                    else max(1, st.chunk_size // 3 + rng.randint(0, st.chunk_size // 7))
                )
                published = first + (last - first) * ((block - 1) / max(blocks - 1, 1))
                published += timedelta(milliseconds=channel * 7)
                file_id = _uuid(self.seed, session_id, channel, block)
                files.append(
                    {
                        "Id": file_id,
                        "Name": f"DCS_{unit:02d}_{session_id}_ch{channel}_DSDB_{block:05d}.raw",
                        self._session_key: session_id,
                        "Channel": channel,
                        "BlockNumber": block,
                        "FinalBlock": final,
                        "PublicationDate": self._time(published),
                        "EvictionDate": self._time(published + EVICTION),
                        "Size": str(size) if self.station.profile == "mps" else size,
                        "Retransfer": retransfer,
                        "_visible": published,
                        "_size": size,
                    }
                )
        quality = [
            {
                "Channel": channel,
                "SessionId": session_id,
                "AcquiredTFs": 1000 * blocks,
                "ErrorTFs": 0,
                "CorrectedTFs": 0,
                "UncorrectableTFs": 0,
                "DataTFs": 1000 * blocks,
                "ErrorDataTFs": 0,
                "CorrectedDataTFs": 0,
                "UncorrectableDataTFs": 0,
                "TotalChunks": blocks,
                "TotalVolume": sum(f["_size"] for f in files if f["Channel"] == channel),
                "DeliveryStart": self._time(first),
                "DeliveryStop": self._time(last),
            }
            for channel in range(1, st.channels + 1)
        ]
        published = start + duration * (20 / 150)  # listed before its first file (40/150)
        self.sessions.append(
            {
                "Id": _uuid(self.seed, "session", session_id),
                "SessionId": session_id,
                "NumChannels": st.channels,
                "PublicationDate": None if retransfer else self._time(published),
                "Satellite": satellite,
                "StationUnitId": f"{unit:02d}",
                "DownlinkOrbit": 50_000 + index,
                "AcquisitionId": f"{acquisition}_1",
                "AntennaId": f"MSP{rng.randint(1, 3):02d}",
                "FrontEndId": f"{rng.randint(1, 4):02d}",
                "Retransfer": retransfer,
                "AntennaStatusOK": True,
                "FrontEndStatusOK": True,
                "PlannedDataStart": self._time(start - timedelta(seconds=2)),
                "PlannedDataStop": self._time(stop + timedelta(seconds=2)),
                "DownlinkStart": None if retransfer else self._time(start),
                "DownlinkStop": None if retransfer else self._time(stop),
                "DownlinkStatusOK": True,
                "DeliveryPushOK": True,
                "_visible": published,
                "_quality": quality,
                "_complete": last,
            }
        )
        self.files.extend(files)

    @property
    def _session_key(self) -> str:
        return "SessionID" if self.station.profile == "mps" else "SessionId"

    def _time(self, value: datetime) -> str:
        """Stations differ in fractional digits and the ``Z``: INS-like ones send 7 digits, MPS none."""
        if self.station.profile == "mps":
            return value.strftime("%Y-%m-%dT%H:%M:%S")
        if self.station.kind == "cadip":
            return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        return format_datetime(value)

    # -- AUXIP / PRIP -------------------------------------------------------------------------------------

    def _build_products(self) -> None:
        st = self.station
        day0 = (self.config.history_end - timedelta(days=st.days)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        for day in range(st.days + 1):
            for index in range(st.products_per_day):
                rng = random.Random(f"{self.seed}:{day}:{index}")
                published = day0 + timedelta(days=day, seconds=(index + 0.5) * 86_400 / st.products_per_day)
                if published > self.config.history_end:
                    continue
                if st.kind == "auxip":
                    self._add_aux(rng, published)
                else:
                    self._add_prip(rng, published, index)
        for number, name in enumerate(st.samples):
            published = (
                self.live_start + timedelta(seconds=st.samples_after + number)
                if st.samples_after is not None
                else self.config.history_end - timedelta(hours=1, seconds=number)
            )
            if st.kind == "auxip":
                self._add_dem(sample(name), published)
            else:
                self._add_safe(sample(name), published)

    def _register(self, record: Record, blob: bytes | None = None) -> None:
        """Serve ``blob`` (by default, generated archive bytes for the record's name) as the product."""
        if blob is None:
            blob = build_product(record["Name"], self.seed, self.station.product_scale)
        self.blobs[record["Id"]] = blob
        record["ContentLength"] = len(blob)
        record["Checksum"] = [
            {
                "Algorithm": "MD5",
                "Value": hashlib.md5(blob).hexdigest(),
                "ChecksumDate": record["PublicationDate"],
            }
        ]
        self.products.append(record)

    def _add_aux(self, rng: random.Random, published: datetime) -> None:
        served = [
            t for t in AUX_TYPES if not self.station.product_types or t[1] in self.station.product_types
        ]
        mission, product_type, pattern = served[rng.randrange(len(served))]
        satellite = rng.choice(SATELLITES[mission])
        valid_from = published - timedelta(hours=rng.randint(6, 48))
        valid_to = published + timedelta(hours=rng.randint(6, 72))
        created = published - timedelta(minutes=rng.randint(5, 90))
        name = pattern.format(
            sat=satellite, start=_compact(valid_from), stop=_compact(valid_to), created=_compact(created)
        )
        attributes = [
            ("productType", "String", product_type),
            ("platformShortName", "String", f"SENTINEL-{mission[1]}"),
            ("platformSerialIdentifier", "String", satellite[-1]),
            ("processingDate", "DateTimeOffset", format_datetime(created)),
            ("processingCenter", "String", rng.choice(["ADGS", "EUM", "ECMWF"])),
            ("beginningDateTime", "DateTimeOffset", format_datetime(valid_from)),
            ("endingDateTime", "DateTimeOffset", format_datetime(valid_to)),
        ]
        self._register(self._product_record(name, published, created, valid_from, valid_to, attributes))

    def _add_prip(self, rng: random.Random, published: datetime, index: int) -> None:
        if "OL_1_EFR___" in self.station.product_types:
            self._add_olci(rng, published, index)
            return
        satellite = rng.choice(["S1A", "S1C"])
        sensing = published - timedelta(hours=rng.randint(1, 5))
        stop = sensing + timedelta(seconds=25)
        orbit = 56_000 + index
        datatake = rng.randint(0x010000, 0x0FFFFF)
        name = (
            f"{satellite}_IW_GRDH_1SDV_{_compact(sensing)}_{_compact(stop)}_{orbit:06d}_{datatake:06X}_"
            f"{rng.randint(0, 0xFFFF):04X}.SAFE.zip"
        )
        lon, lat = rng.uniform(-10, 30), rng.uniform(35, 65)
        ring = [
            [lon, lat],
            [lon + 2.5, lat + 0.4],
            [lon + 2.1, lat + 2.2],
            [lon - 0.4, lat + 1.8],
            [lon, lat],
        ]
        attributes = [
            ("productType", "String", "IW_GRDH_1S"),
            ("platformShortName", "String", "SENTINEL-1"),
            ("platformSerialIdentifier", "String", satellite[-1]),
            ("orbitNumber", "Integer", orbit),
            ("relativeOrbitNumber", "Integer", (orbit - 73) % 175 + 1),
            ("orbitDirection", "String", rng.choice(["ASCENDING", "DESCENDING"])),
            ("polarisationChannels", "String", "VV&VH"),
            ("datatakeID", "Integer", datatake),
            ("instrumentShortName", "String", "SAR"),
            ("operationalMode", "String", "IW"),
            ("processingDate", "DateTimeOffset", format_datetime(published - timedelta(minutes=20))),
        ]
        self._register_acquired(name, published, sensing, stop, attributes, ring)

    def _register_acquired(
        self,
        name: str,
        published: datetime,
        sensing: datetime,
        stop: datetime,
        attributes: list[tuple[str, str, Any]],
        ring: list[list[float]],
    ) -> None:
        """A systematically produced, online product with its footprint in both forms a PRIP gives it."""
        record = self._product_record(name, published, published, sensing, stop, attributes)
        record["ProductionType"] = "systematic_production"
        record["ModificationDate"] = record["PublicationDate"]
        record["Online"] = True
        record["GeoFootprint"] = {"type": "Polygon", "coordinates": [ring]}
        record["Footprint"] = (
            "geography'SRID=4326;POLYGON((" + ",".join(f"{x:.4f} {y:.4f}" for x, y in ring) + "))'"
        )
        self._register(record)

    def _add_olci(self, rng: random.Random, published: datetime, index: int) -> None:
        """A Sentinel-3 OLCI full-resolution L1 product, as an S3 PRIP names and describes it (stand-in content)."""
        satellite = rng.choice(["S3A", "S3B"])
        sensing = published - timedelta(hours=rng.randint(1, 5))
        stop = sensing + timedelta(minutes=3)
        orbit = 30_000 + index
        name = (
            f"{satellite}_OL_1_EFR____{_compact(sensing)}_{_compact(stop)}_{_compact(published)}_0179_"
            f"{rng.randint(1, 999):03d}_{rng.randint(1, 385):03d}_2520_PS1_O_NR_004.SEN3.zip"
        )
        lon, lat = rng.uniform(-20, 30), rng.uniform(30, 60)
        ring = [[lon, lat], [lon + 11, lat], [lon + 11, lat + 10], [lon, lat + 10], [lon, lat]]
        attributes = [
            ("productType", "String", "OL_1_EFR___"),
            ("platformShortName", "String", "SENTINEL-3"),
            ("platformSerialIdentifier", "String", satellite[-1]),
            ("orbitNumber", "Integer", orbit),
            ("orbitDirection", "String", "DESCENDING"),
            ("instrumentShortName", "String", "OLCI"),
            ("processingDate", "DateTimeOffset", format_datetime(published - timedelta(minutes=20))),
        ]
        self._register_acquired(name, published, sensing, stop, attributes, ring)

    def _add_safe(self, safe: Path, published: datetime) -> None:
        """A real SAFE product, zipped, with the attributes a PRIP derives from its name and manifest."""
        manifest = (safe / "manifest.safe").read_text()
        name = f"{safe.name}.zip"
        fields = safe.name.split("_")
        sensing = datetime.strptime(fields[-5], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        stop = datetime.strptime(fields[-4], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        orbit = int(fields[-3])
        coordinates = re.search(r"<gml:coordinates>([^<]+)</gml:coordinates>", manifest)
        pairs = (
            [tuple(float(v) for v in pair.split(",")) for pair in coordinates[1].split()]
            if coordinates
            else []
        )
        ring = [[lon, lat] for lat, lon in pairs] + [[pairs[0][1], pairs[0][0]]] if pairs else []
        direction = re.search(r"<s1:pass>(\w+)</s1:pass>", manifest)
        attributes = [
            ("productType", "String", legacy_type_of(safe.name)),
            ("platformShortName", "String", f"SENTINEL-{safe.name[1]}"),
            ("platformSerialIdentifier", "String", safe.name[2]),
            ("orbitNumber", "Integer", orbit),
            ("relativeOrbitNumber", "Integer", (orbit - 27) % 175 + 1),
            ("orbitDirection", "String", direction[1] if direction else "DESCENDING"),
            ("polarisationChannels", "String", "VV"),
            ("datatakeID", "Integer", int(fields[-2], 16)),
            ("instrumentShortName", "String", "SAR"),
            ("operationalMode", "String", fields[1]),
            ("processingDate", "DateTimeOffset", format_datetime(published - timedelta(minutes=20))),
        ]
        record = self._product_record(name, published, published, sensing, stop, attributes)
        record["ProductionType"] = "systematic_production"
        record["ModificationDate"] = record["PublicationDate"]
        record["Online"] = True
        if ring:
            record["GeoFootprint"] = {"type": "Polygon", "coordinates": [ring]}
            record["Footprint"] = (
                "geography'SRID=4326;POLYGON((" + ",".join(f"{x} {y}" for x, y in ring) + "))'"
            )
        self._register(record, zip_directory(safe))

    def _add_dem(self, dem: Path, published: datetime) -> None:
        """A DEM as an AUXIP serves a mission-wide ADF: valid for all time, no satellite unit."""
        name = "S1__AUX_DEM_V20000101T000000_21000101T000000_ROME30.TIF"
        created = published - timedelta(minutes=30)
        valid_from = datetime(2000, 1, 1, tzinfo=UTC)
        valid_to = datetime(2100, 1, 1, tzinfo=UTC)
        attributes = [
            ("productType", "String", "AUX_DEM"),
            ("platformShortName", "String", "SENTINEL-1"),
            ("processingDate", "DateTimeOffset", format_datetime(created)),
            ("processingCenter", "String", "ADGS"),
            ("beginningDateTime", "DateTimeOffset", format_datetime(valid_from)),
            ("endingDateTime", "DateTimeOffset", format_datetime(valid_to)),
        ]
        record = self._product_record(name, published, created, valid_from, valid_to, attributes)
        record["ContentType"] = "image/tiff"
        self._register(record, dem.read_bytes())

    def _product_record(
        self,
        name: str,
        published: datetime,
        created: datetime,
        valid_from: datetime,
        valid_to: datetime,
        attributes: list[tuple[str, str, Any]],
    ) -> Record:
        return {
            "Id": _uuid(self.seed, "product", name),
            "Name": name,
            "ContentType": "application/octet-stream",
            "ContentLength": 0,
            "OriginDate": format_datetime(created),
            "PublicationDate": format_datetime(published),
            "EvictionDate": format_datetime(published + EVICTION),
            "ContentDate": {"Start": format_datetime(valid_from), "End": format_datetime(valid_to)},
            "Attributes": [
                {"@odata.type": f"#OData.CSC.{kind}Attribute", "Name": key, "ValueType": kind, "Value": value}
                for key, kind, value in attributes
            ],
            "_visible": published,
        }


def _session_view(session: Record, now: datetime) -> Record:
    """QualityInfo only exists once the downlink's last file is delivered."""
    if now >= session["_complete"]:
        return {**session, "QualityInfo": session["_quality"]}
    return session


def public(record: Record) -> Record:
    return {k: v for k, v in record.items() if not k.startswith("_")}


class SimulatorData:
    def __init__(self, config: SimulatorConfig):
        self.config = config
        self.pattern = PatternContent(config.seed)
        live_start = config.live_start or utcnow()
        self.stations = {s.name: StationData(config, s, self.pattern, live_start) for s in config.stations}

    def now(self) -> datetime:
        return utcnow()
