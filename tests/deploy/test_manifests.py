"""deploy/ and charts/kubevents against the real apiserver, the real kubectl and the real Helm.

The apiserver validates every object with its own schemas (a server-side dry run for the
chart, a real apply for deploy/). ServiceMonitor and PrometheusRule need prometheus-operator's
CRDs, which this cluster does not have: they are checked by ``helm lint`` and by their content.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubevents.clock import parse_duration
from kubevents.export import (
    ExportMetrics,
    LeaderElectedExporter,
    load_export_config,
)
from kubevents.export._access import required_permissions
from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster, ensure_helm, ensure_kubectl

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CHART = REPO / "charts" / "kubevents"
ALERTS = {
    "KubeventsExporterDown", "KubeventsNoLeader", "KubeventsExportLag", "KubeventsSinkFailing",
    "KubeventsCheckpointStale", "KubeventsSpoolFilling", "KubeventsBufferDropping",
    "KubeventsHeartbeatLate",
}  # fmt: skip


def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=180,
                          check=False)  # fmt: skip


def kubectl(cluster: LocalCluster, *args: str, stdin: str | None = None) -> str:
    result = run([str(ensure_kubectl()), "--kubeconfig", str(cluster.kubeconfig), *args], stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return run([str(ensure_helm()), *args])


def template(namespace: str, *values: str) -> str:
    args = ["template", "kv", str(CHART), "--namespace", namespace]
    for value in values:
        args += ["--set", value]
    result = helm(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def deploy_documents() -> list[dict[str, Any]]:
    return [doc for path in sorted(DEPLOY.glob("*.yaml")) for doc in documents(path.read_text())]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in docs if doc["kind"] == kind]
    return found


def metric_names() -> set[str]:
    """Every series name the exporter exposes (leader metrics included)."""
    config = load_export_config(
        overrides={"leader_election": {"enabled": True, "namespace": "x"}}, environ={}
    )
    registry = LeaderElectedExporter(config, metrics=ExportMetrics()).metrics.registry
    names = set()
    for family in registry.collect():
        # Labelled families have no samples until used: name them from the family.
        names |= {family.name, *(sample.name for sample in family.samples)}
        if family.type == "counter":
            names.add(family.name + "_total")
    return names


def with_secret_files(config: dict[str, Any], root: Path) -> dict[str, Any]:
    """``config`` with its mounted-Secret paths moved under ``root``, where they exist.

    Validation checks that credential files are readable; in the pod the Secret is mounted,
    here the test plays the kubelet.
    """
    text = yaml.safe_dump(config).replace("/etc/kubevents/secrets/", f"{root}/secrets/")
    moved: dict[str, Any] = yaml.safe_load(text)
    for sink in moved.get("sinks", []):
        for key, value in sink.items():
            if key.endswith("_file") and value.startswith(str(root)):
                Path(value).parent.mkdir(parents=True, exist_ok=True)
                Path(value).write_text("secret\n")
    return moved


def check_container(deployment: dict[str, Any], config: dict[str, Any]) -> None:
    """What a pod needs: non-root, read-only root, probes, grace over the drain deadline."""
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["limits"]["memory"]
    drain = parse_duration(config.get("shutdown_timeout", "25s"))
    renew = config.get("leader_election", {}).get("renew_deadline", "10s")
    release = parse_duration(renew)
    assert pod["terminationGracePeriodSeconds"] > drain + release
    port = container["ports"][0]["containerPort"]
    assert config["listen"] == f":{port}"  # every address of the pod, whichever family
    names = {env["name"] for env in container["env"]}
    assert {"POD_NAME", "POD_NAMESPACE", "POD_UID"} <= names  # the heartbeat's pod, if asked


async def test_kubectl_apply_deploy_creates_a_valid_installation(
    local_cluster: LocalCluster, kube: KubeClient
) -> None:
    output = kubectl(local_cluster, "apply", "-f", str(DEPLOY))
    assert "Warning" not in output, output  # PodSecurity "restricted" has nothing to say
    docs = deploy_documents()
    for doc in docs:
        name = doc["metadata"]["name"]
        assert re.search(rf"{doc['kind'].lower()}[\w.]*/{name} (created|configured|unchanged)",
                         output), (doc["kind"], name, output)  # fmt: skip
    live = documents(kubectl(local_cluster, "get", "-f", str(DEPLOY), "-o", "yaml"))[0]["items"]
    assert {(d["kind"], d["metadata"]["name"]) for d in live} == {
        (d["kind"], d["metadata"]["name"]) for d in docs
    }
    config_map = one(docs, "ConfigMap")
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    load_export_config(overrides=config, environ={})  # valid as shipped
    assert config["leader_election"]["enabled"] is True
    check_container(one(docs, "Deployment"), config)
    assert one(docs, "Deployment")["spec"]["replicas"] == 2
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_helm_lint_is_clean() -> None:
    for values in ([], ["serviceMonitor.enabled=true", "prometheusRule.enabled=true"]):
        args = ["lint", "--strict", str(CHART)] + [a for v in values for a in ("--set", v)]
        result = helm(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["replicaCount=1", "persistence.enabled=true", "sinks[0].type=sqlite"],
        ["watchNamespace=NAMESPACE", "leaderElection.leaseName=events-lock"],
        [
            "sinks[0].type=opensearch",
            "sinks[0].hosts[0]=https://os.example:9200",
            "sinks[0].username=kubevents",
            "secretMounts[0].name=os",
            "secretMounts[0].secretName=os-credentials",
            "sinks[0].password_file=/etc/kubevents/secrets/os/password",
            "extraEnv[0].name=KUBEVENTS_LOG_LEVEL",
            "extraEnv[0].value=debug",
            "config.buffer.queue_size=8000",
        ],
    ],
    ids=["defaults", "sqlite-store", "one-namespace", "opensearch-with-secret"],
)
async def test_helm_template_passes_a_server_side_dry_run(
    local_cluster: LocalCluster, namespace: str, values: list[str], tmp_path: Path
) -> None:
    rendered = template(namespace, *(v.replace("NAMESPACE", namespace) for v in values))
    docs = documents(rendered)
    assert not {d["kind"] for d in docs} & {"ServiceMonitor", "PrometheusRule"}  # off by default
    output = kubectl(local_cluster, "apply", "--dry-run=server", "-f", "-", stdin=rendered)
    assert output.count("(server dry run)") == len(docs), output
    assert "Warning" not in output, output
    config = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yaml"])
    load_export_config(overrides=with_secret_files(config, tmp_path), environ={})
    check_container(one(docs, "Deployment"), config)
    if "replicaCount=1" in values:
        assert one(docs, "Deployment")["spec"]["strategy"]["type"] == "Recreate"
        assert not [d for d in docs if d["kind"] == "PodDisruptionBudget"]


def test_the_chart_grants_exactly_the_rbac_of_deploy() -> None:
    def rules(docs: list[dict[str, Any]], fullname: str) -> dict[tuple[str, str], Any]:
        return {
            (d["kind"], d["metadata"]["name"].removeprefix(fullname)): d["rules"]
            for d in docs
            if d["kind"] in ("ClusterRole", "Role")
        }

    chart = rules(
        documents(template("kubevents", "leaderElection.leaseName=kubevents")), "kv-kubevents"
    )
    assert chart == rules(deploy_documents(), "kubevents")
    assert ("Role", "-heartbeat") in chart
    without = rules(documents(template("kubevents", "heartbeat.enabled=false")), "kv-kubevents")
    assert ("Role", "-heartbeat") not in without


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            ["sinks[0].type=sqlite", "persistence.enabled=true"],
            "several replicas cannot share one SQLite file",
        ),
        (["replicaCount=1", "sinks[0].type=sqlite"], "needs persistence.enabled=true"),
        (
            ["sinks[0].type=opensearch", "sinks[0].password=hunter2"],
            "credentials do not belong in values",
        ),
        (["leaderElection.enabled=false"], "replicaCount > 1 needs leaderElection.enabled"),
        (["watchNamespace=shop"], "the heartbeat Event lives in the release's namespace"),
    ],
)
def test_the_chart_refuses_what_cannot_work(values: list[str], message: str) -> None:
    args = ["template", "kv", str(CHART)] + [a for v in values for a in ("--set", v)]
    result = helm(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "hunter2" not in result.stderr


def test_servicemonitor_and_alerts_match_the_service_and_the_metrics() -> None:
    names = metric_names()
    rendered = documents(
        template("monitoring", "serviceMonitor.enabled=true", "prometheusRule.enabled=true")
    )
    shipped = [documents((DEPLOY / "monitoring" / f).read_text())[0]
               for f in ("servicemonitor.yaml", "prometheusrule.yaml")]  # fmt: skip
    for docs, job in ((rendered, "kv-kubevents"), (deploy_documents() + shipped, "kubevents")):
        service, monitor = one(docs, "Service"), one(docs, "ServiceMonitor")
        labels = monitor["spec"]["selector"]["matchLabels"]
        assert labels.items() <= service["metadata"]["labels"].items()
        assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
        rules = [r for g in one(docs, "PrometheusRule")["spec"]["groups"] for r in g["rules"]]
        assert {r["alert"] for r in rules} == ALERTS
        for rule in rules:
            used = set(re.findall(r"\bkubevents_\w+", rule["expr"]))
            assert used <= names, (rule["alert"], used - names)
            assert f'job="{job}"' in rule["expr"]
            assert rule["annotations"]["runbook"].startswith("docs/operations.md#")
            anchor = rule["annotations"]["runbook"].split("#")[1]
            assert f"### {rule['alert']}" in (REPO / "docs" / "operations.md").read_text()
            assert anchor == rule["alert"].lower()
    spool = next(r for r in rules if r["alert"] == "KubeventsSpoolFilling")
    assert spool["expr"].endswith("> 0.75")
    custom = documents(
        template("m", "prometheusRule.enabled=true", "prometheusRule.spoolFillingRatio=0.9")
    )
    rule = next(r for g in one(custom, "PrometheusRule")["spec"]["groups"] for r in g["rules"]
                if r["alert"] == "KubeventsSpoolFilling")  # fmt: skip
    assert rule["expr"].endswith("> 0.9")


# The enrichment's RBAC: deploy/enrichment/ and the chart's enrichment.enabled grant list +
# watch of exactly the enabled kinds, which is exactly what the exporter checks at start.

SHIPPED_KINDS = ["Pod", "ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]


def granted(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (verb, resource, group)
        for rule in rules
        for verb in rule["verbs"]
        for resource in rule["resources"]
        for group in rule["apiGroups"]
    }


def needed(config: dict[str, Any]) -> set[tuple[str, str, str]]:
    """What the exporter's start-up check asks for beyond Events, from the rendered config."""
    loaded = load_export_config(overrides=config, environ={})
    return {
        (p.verb, p.resource, p.group) for p in required_permissions(loaded)
        if p.resource not in ("events", "leases")
    }  # fmt: skip


def test_deploy_enrichment_grants_what_the_shipped_example_needs() -> None:
    docs = documents((DEPLOY / "enrichment" / "rbac.yaml").read_text())
    rules = one(docs, "ClusterRole")["rules"]
    assert {tuple(rule["verbs"]) for rule in rules} == {("list", "watch")}
    assert granted(rules) == needed({"enrich": {"kinds": SHIPPED_KINDS}})
    # The example in deploy/20-config.yaml is the one these rules are for.
    example = (DEPLOY / "20-config.yaml").read_text()
    assert f"kinds: [{', '.join(SHIPPED_KINDS)}]" in example


def test_the_chart_grants_exactly_what_the_enabled_kinds_need() -> None:
    assert not [
        d for d in documents(template("kubevents")) if "enrichment" in d["metadata"]["name"]
    ]  # off by default
    docs = documents(template("kubevents", "enrichment.enabled=true"))
    config = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yaml"])
    assert config["enrich"]["kinds"] == SHIPPED_KINDS
    (role,) = [d for d in docs if d["metadata"]["name"] == "kv-kubevents-enrichment"
               and d["kind"] == "ClusterRole"]  # fmt: skip
    assert granted(role["rules"]) == needed(config)
    deploy = one(documents((DEPLOY / "enrichment" / "rbac.yaml").read_text()), "ClusterRole")
    assert role["rules"] == deploy["rules"]


def test_a_namespaced_chart_uses_a_role_and_a_cluster_role_only_for_cluster_kinds() -> None:
    docs = documents(
        template(
            "kubevents", "enrichment.enabled=true", "watchNamespace=shop",
            "enrichment.kinds={Pod,Deployment,Node}", "heartbeat.enabled=false",
        )
    )  # fmt: skip
    enrichment = {d["kind"]: d for d in docs if "enrichment" in d["metadata"]["name"]}
    assert enrichment["Role"]["metadata"]["namespace"] == "shop"
    assert granted(enrichment["Role"]["rules"]) == {
        (v, r, g) for v in ("list", "watch") for r, g in (("pods", ""), ("deployments", "apps"))
    }
    assert granted(enrichment["ClusterRole"]["rules"]) == {("list", "nodes", ""),
                                                            ("watch", "nodes", "")}  # fmt: skip
    config = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yaml"])
    assert needed(config) == granted(enrichment["Role"]["rules"]) | granted(
        enrichment["ClusterRole"]["rules"]
    )


def test_the_chart_refuses_a_kind_it_cannot_grant() -> None:
    result = helm(
        "template", "kv", str(DEPLOY.parent / "charts" / "kubevents"),
        "--set", "enrichment.enabled=true", "--set", "enrichment.kinds={Pod,Widget}",
    )  # fmt: skip
    assert result.returncode != 0
    assert "enrichment.kinds[1]: Widget is not a kind enrichment caches" in result.stderr


async def test_both_apply_on_the_real_apiserver(
    local_cluster: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    output = kubectl(local_cluster, "apply", "--dry-run=server", "-f", str(DEPLOY / "enrichment"))
    assert output.count("(server dry run)") == 2, output
    rendered = template(namespace, "enrichment.enabled=true")
    output = kubectl(local_cluster, "apply", "--dry-run=server", "-f", "-", stdin=rendered)
    assert output.count("(server dry run)") == len(documents(rendered)), output
    assert "Warning" not in output, output
