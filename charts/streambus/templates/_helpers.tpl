{{/*
Names, labels and the broker's derived settings. Resource names are cut at 63 characters, the
limit of a DNS label; the StatefulSet name is kept shorter so that pod names with the ordinal
and the controller-revision-hash label still fit.
*/}}

{{- define "streambus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* release-name-chart-name, or the release name alone when it contains the chart name. */}}
{{- define "streambus.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "streambus.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that never change for a release: the selector of the StatefulSet and Services. */}}
{{- define "streambus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "streambus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: broker
{{- end -}}

{{- define "streambus.labels" -}}
helm.sh/chart: {{ include "streambus.chart" . }}
{{ include "streambus.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: streambus
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "streambus.headlessServiceName" -}}
{{- printf "%s-headless" (include "streambus.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "streambus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "streambus.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "streambus.image" -}}
{{- $repository := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repository = printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
The stable DNS name of broker ORDINAL: POD.HEADLESS.NAMESPACE.svc.DOMAIN. Call with
(dict "root" $ "ordinal" N).
*/}}
{{- define "streambus.podAddress" -}}
{{- $root := .root -}}
{{- printf "%s-%d.%s.%s.svc.%s" (include "streambus.fullname" $root) (int .ordinal) (include "streambus.headlessServiceName" $root) $root.Release.Namespace $root.Values.clusterDomain -}}
{{- end -}}

{{/*
STREAMBUS_PEERS: ID=HOST:PORT,... for every broker. The broker's config loader
(packages/broker/src/config/address.ts) takes the pod name streambus-N as broker id N+1, so pod
ordinal N is listed as id N+1.
*/}}
{{- define "streambus.peers" -}}
{{- $peers := list -}}
{{- range $ordinal := until (int .Values.replicas) -}}
{{- $peers = append $peers (printf "%d=%s:%d" (add1 $ordinal) (include "streambus.podAddress" (dict "root" $ "ordinal" $ordinal)) (int $.Values.ports.grpc)) -}}
{{- end -}}
{{- join "," $peers -}}
{{- end -}}

{{/* Where the TLS Secret's files appear in the container. */}}
{{- define "streambus.tlsDir" -}}/etc/streambus/tls{{- end -}}

{{/*
server.yaml: .Values.config with the keys the chart owns laid over it. The keys the chart owns
may not be set in .Values.config: they are derived from other values (ports, persistence) or set
per pod through the environment (broker id, peers, listen host).
*/}}
{{- define "streambus.serverConfig" -}}
{{- $config := deepCopy (.Values.config | default dict) -}}
{{- $server := get $config "server" | default dict -}}
{{- range $key := list "listen" "admin_listen" "data_dir" "broker_id" "peers" "cluster_id" -}}
{{- if hasKey $server $key -}}
{{- fail (printf "config.server.%s is set by the chart (from ports, persistence, clusterId and the pod's name); remove it from config" $key) -}}
{{- end -}}
{{- end -}}
{{- $monitoring := get $config "monitoring" | default dict -}}
{{- if hasKey $monitoring "metrics_port" -}}
{{- fail "config.monitoring.metrics_port is set by the chart from ports.admin; remove it from config" -}}
{{- end -}}
{{- $security := get $config "security" | default dict -}}
{{- range $key := list "tls_enabled" "tls_cert" "tls_key" "tls_ca" "tls_key_password" -}}
{{- if hasKey $security $key -}}
{{- fail (printf "config.security.%s is set by the chart from the tls values; remove it from config" $key) -}}
{{- end -}}
{{- end -}}
{{- $owned := dict
  "listen" (printf "0.0.0.0:%d" (int .Values.ports.grpc))
  "admin_listen" (printf "0.0.0.0:%d" (int .Values.ports.admin))
  "data_dir" "/var/lib/streambus"
  "cluster_id" (.Values.clusterId | default (include "streambus.fullname" .))
-}}
{{- $_ := set $config "server" (merge $owned $server) -}}
{{- if .Values.tls.enabled -}}
{{- $tls := dict
  "tls_enabled" true
  "tls_cert" (printf "%s/tls.crt" (include "streambus.tlsDir" .))
  "tls_key" (printf "%s/tls.key" (include "streambus.tlsDir" .))
  "tls_ca" (printf "%s/ca.crt" (include "streambus.tlsDir" .))
-}}
{{- $_ := set $config "security" (merge $tls $security) -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/*
The broker's graceful stop (SIGTERM) is bounded by shutdownTimeoutMs, 30 s
(packages/broker/src/cli/constants.ts): the leadership hand-off (at most 10 s), in-flight calls
(2 s), then the store's flush and close. The grace period must cover the preStop sleep, that
stop, and a margin.
*/}}
{{- define "streambus.brokerStopSeconds" -}}30{{- end -}}

{{- define "streambus.validate" -}}
{{- $preStop := int .Values.preStopSleepSeconds -}}
{{- if .Values.drain.enabled -}}{{- $preStop = add $preStop (int .Values.drain.timeoutSeconds) -}}{{- end -}}
{{- $minimum := add $preStop (int (include "streambus.brokerStopSeconds" .)) 5 -}}
{{- if lt (int .Values.terminationGracePeriodSeconds) (int $minimum) -}}
{{- fail (printf "terminationGracePeriodSeconds %d is too short: the preStop hook (%d s: drain.timeoutSeconds when drain.enabled, plus preStopSleepSeconds) and the broker's graceful stop (%s s) need at least %d; raise it or lower those" (int .Values.terminationGracePeriodSeconds) (int $preStop) (include "streambus.brokerStopSeconds" .) (int $minimum)) -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) -}}
{{- fail "tls.enabled needs tls.secretName: a Secret with tls.crt, tls.key and ca.crt" -}}
{{- end -}}
{{- if eq (int .Values.ports.grpc) (int .Values.ports.admin) -}}
{{- fail "ports.grpc and ports.admin must differ: the admin HTTP server has its own port" -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not (dig "monitoring" "metrics_enabled" true .Values.config)) -}}
{{- fail "metrics.serviceMonitor.enabled needs config.monitoring.metrics_enabled: true (else /metrics answers 404)" -}}
{{- end -}}
{{- end -}}
