"""The ``leader_election`` block, the identity, and the permissions the exporter checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kubevents.cli import main
from kubevents.export import (
    ConfigError,
    LeaderElectedExporter,
    LeaderElectionConfig,
    load_export_config,
    required_permissions,
)
from kubevents.export._leader import default_identity
from kubevents.kube import ENV_SERVICE_ACCOUNT_DIR


def test_leader_election_is_off_by_default_with_client_go_timings() -> None:
    le = load_export_config(environ={}).leader_election
    assert le == LeaderElectionConfig()
    assert not le.enabled
    assert (le.lease_duration, le.renew_deadline, le.retry_period) == (15.0, 10.0, 2.0)
    assert le.lease_name == "kubevents" and le.namespace is None and le.identity is None


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"lease_duration": "1500ms"}, "leader_election.lease_duration: must be whole seconds"),
        ({"lease_duration": "10s"}, "lease_duration must be greater than renew_deadline"),
        ({"retry_period": "9s"}, "renew_deadline must be greater than retry_period × 1.2"),
        ({"retry_period": "soon"}, "leader_election.retry_period: invalid duration"),
        (
            {"lease_name": "Not_A_Name"},
            "leader_election.lease_name: 'Not_A_Name' is not a valid object name",
        ),
        ({"namespace": "a.b"}, "leader_election.namespace: 'a.b' is not a valid namespace"),
        ({"identity": " "}, "leader_election.identity: must not be empty"),
        ({"enabled": "yes please"}, "leader_election.enabled"),
        ({"lease": "x"}, "leader_election"),
    ],
)
def test_invalid_blocks_name_the_field(block: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_export_config(overrides={"leader_election": block}, environ={})


def test_an_invalid_block_exits_2_from_the_command(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("leader_election: {enabled: true, lease_duration: 5s}\n")
    result = CliRunner().invoke(main, ["export", "--config", str(config)])
    assert result.exit_code == 2
    assert "leader_election: lease_duration must be greater than renew_deadline" in result.output
    assert "Traceback" not in result.output


def test_the_lease_namespace_defaults_to_the_pods(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "namespace").write_text("monitoring\n")
    monkeypatch.setenv(ENV_SERVICE_ACCOUNT_DIR, str(tmp_path))
    config = load_export_config(overrides={"leader_election": {"enabled": True}}, environ={})
    assert LeaderElectedExporter(config).namespace == "monitoring"
    monkeypatch.setenv(ENV_SERVICE_ACCOUNT_DIR, str(tmp_path / "not-a-pod"))
    with pytest.raises(ConfigError, match=r"leader_election\.namespace: not set"):
        LeaderElectedExporter(config)


def test_identities_are_the_pod_name_and_never_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "kubevents-7d9f-x2")
    first, second = default_identity(), default_identity()
    assert first.startswith("kubevents-7d9f-x2_") and second.startswith("kubevents-7d9f-x2_")
    assert first != second  # a restarted container never mistakes itself for the old holder


def test_the_permissions_checked_are_exactly_what_the_exporter_uses() -> None:
    plain = load_export_config(overrides={"namespace": "shop"}, environ={})
    assert [p.describe() for p in required_permissions(plain)] == [
        "list events in namespace 'shop'",
        "watch events in namespace 'shop'",
    ]
    elected = load_export_config(environ={})
    assert [p.describe() for p in required_permissions(elected, "kubevents")] == [
        "list events in all namespaces",
        "watch events in all namespaces",
        "get leases.coordination.k8s.io 'kubevents' in namespace 'kubevents'",
        "create leases.coordination.k8s.io in namespace 'kubevents'",
        "update leases.coordination.k8s.io 'kubevents' in namespace 'kubevents'",
    ]
