import dagster as dg

from rs_assets.core.alerts import Webhook


class AlertsResource(dg.ConfigurableResource):
    """Where failed runs are reported and how their links are built. ``webhook_url`` is a secret (an incoming
    webhook embeds its token): configure it with ``dg.EnvVar("RS_ASSETS_ALERT_WEBHOOK")``."""

    webhook_url: str | None = None
    ui_url: str = "http://127.0.0.1:3000"

    def webhook(self) -> Webhook | None:
        return Webhook(self.webhook_url) if self.webhook_url else None

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}"
