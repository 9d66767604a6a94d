"""``kubevents ui``: a read-only web view of the SQLite store (docs/ui.md)."""

from kubevents.cli.ui._app import CSP, UIOptions, loopback_hosts, make_app

__all__ = ["CSP", "UIOptions", "loopback_hosts", "make_app"]
