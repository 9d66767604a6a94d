{{- define "kubevents.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubevents.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kubevents.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubevents.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: exporter
{{- end -}}

{{- define "kubevents.labels" -}}
{{ include "kubevents.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kubevents.leaseName" -}}
{{- .Values.leaderElection.leaseName | default (include "kubevents.fullname" .) -}}
{{- end -}}

{{/* "true" when a sink is the SQLite store. */}}
{{- define "kubevents.hasSqlite" -}}
{{- range .Values.sinks -}}{{- if eq (toString .type) "sqlite" -}}true{{- end -}}{{- end -}}
{{- end -}}

{{/* Refuse what cannot work, before anything reaches the cluster. */}}
{{- define "kubevents.validate" -}}
{{- range $i, $sink := .Values.sinks -}}
{{- range $key := list "password" "api_key" "bearer_token" -}}
{{- if hasKey $sink $key -}}
{{- fail (printf "sinks[%d].%s: credentials do not belong in values (they would land in the ConfigMap); mount a Secret with secretMounts and use %s_file" $i $key $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicaCount > 1 needs leaderElection.enabled: otherwise every replica exports" -}}
{{- end -}}
{{- if and .Values.heartbeat.enabled .Values.watchNamespace (ne .Values.watchNamespace .Release.Namespace) -}}
{{- fail "heartbeat.enabled with watchNamespace other than the release's namespace: the heartbeat Event lives in the release's namespace, which the exporter would not watch; set heartbeat.enabled=false" -}}
{{- end -}}
{{- if include "kubevents.hasSqlite" . -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- fail "a sqlite sink with replicaCount > 1: several replicas cannot share one SQLite file. High availability is for remote sinks (opensearch, elasticsearch, webhook, jsonl to stdout); use replicaCount 1 for the SQLite store" -}}
{{- end -}}
{{- if not .Values.persistence.enabled -}}
{{- fail "a sqlite sink needs persistence.enabled=true: in an emptyDir the history would vanish with the pod" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The exporter's configuration file. */}}
{{- define "kubevents.config" -}}
{{- $le := .Values.leaderElection -}}
{{- $config := dict
  "cluster_name" .Values.clusterName
  "listen" (printf ":%d" (int .Values.service.port))
  "log_format" "json"
  "checkpoint" "/var/lib/kubevents/kubevents.checkpoint"
  "shutdown_timeout" .Values.shutdownTimeout
  "sinks" .Values.sinks
  "leader_election" (dict
    "enabled" $le.enabled
    "lease_name" (include "kubevents.leaseName" .)
    "lease_duration" $le.leaseDuration
    "renew_deadline" $le.renewDeadline
    "retry_period" $le.retryPeriod)
-}}
{{- if .Values.watchNamespace -}}
{{- $_ := set $config "namespace" .Values.watchNamespace -}}
{{- end -}}
{{- if .Values.enrichment.enabled -}}
{{- $e := .Values.enrichment -}}
{{- $_ := set $config "enrich" (dict "kinds" $e.kinds "labels" $e.labels "annotations" $e.annotations) -}}
{{- end -}}
{{- $hb := .Values.heartbeat -}}
{{- $_ := set $config "heartbeat" (dict
    "enabled" $hb.enabled
    "interval" $hb.interval
    "max_age" $hb.maxAge
    "required" $hb.required) -}}
{{- toYaml (mustMergeOverwrite $config (deepCopy .Values.config)) -}}
{{- end -}}

{{- /* The API group, resource and scope of each kind enrichment caches (export/_enrichconfig.py). */ -}}
{{- define "kubevents.enrichResources" -}}
Pod: ["", pods, true]
ReplicaSet: [apps, replicasets, true]
Deployment: [apps, deployments, true]
StatefulSet: [apps, statefulsets, true]
DaemonSet: [apps, daemonsets, true]
Job: [batch, jobs, true]
CronJob: [batch, cronjobs, true]
ReplicationController: ["", replicationcontrollers, true]
Service: ["", services, true]
PersistentVolumeClaim: ["", persistentvolumeclaims, true]
HorizontalPodAutoscaler: [autoscaling, horizontalpodautoscalers, true]
Node: ["", nodes, false]
Namespace: ["", namespaces, false]
PersistentVolume: ["", persistentvolumes, false]
{{- end -}}

{{- /* list + watch rules for the enabled kinds of one scope ("namespaced" or "cluster"). */ -}}
{{- define "kubevents.enrichRules" -}}
{{- $resources := include "kubevents.enrichResources" .root | fromYaml -}}
{{- range $i, $kind := .root.Values.enrichment.kinds }}
{{- $r := get $resources $kind -}}
{{- if not $r -}}
{{- fail (printf "enrichment.kinds[%d]: %v is not a kind enrichment caches" $i $kind) -}}
{{- end -}}
{{- if or (eq $.scope "all") (and (eq $.scope "namespaced") (index $r 2)) (and (eq $.scope "cluster") (not (index $r 2))) }}
- apiGroups: [{{ index $r 0 | quote }}]
  resources: [{{ index $r 1 | quote }}]
  verbs: ["list", "watch"]
{{- end -}}
{{- end -}}
{{- end -}}
