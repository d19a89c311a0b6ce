import dagster as dg
from pydantic import PrivateAttr

from rs_assets.core.station.client import StationClient
from rs_assets.settings import StationsFile, load_stations_file, simulator_stations


class StationsResource(dg.ConfigurableResource):
    """The configured stations; one pooled client per station for the life of a run."""

    stations_file: str | None = None
    simulator_url: str | None = None

    _clients: dict[str, StationClient] = PrivateAttr(default_factory=dict)

    def stations(self) -> StationsFile:
        if self.stations_file:
            return load_stations_file(self.stations_file)
        if self.simulator_url:
            return simulator_stations(self.simulator_url)
        raise dg.DagsterInvalidConfigError("StationsResource needs stations_file or simulator_url", [], None)

    def client(self, name: str) -> StationClient:
        if name not in self._clients:
            self._clients[name] = StationClient(self.stations().station(name).client_config())
        return self._clients[name]

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
