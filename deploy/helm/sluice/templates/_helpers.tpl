{{/* Names and labels. */}}
{{- define "sluice.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sluice.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* sluice.selector ROLE: the labels that select one role's pods. */}}
{{- define "sluice.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "sluice.image" -}}
{{- $tag := .image.tag | default .root.Chart.AppVersion -}}
{{- if .root.Values.image.registry -}}
{{ .root.Values.image.registry }}/{{ .image.repository }}:{{ $tag }}
{{- else -}}
{{ .image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{- define "sluice.secretName" -}}
{{ include "sluice.fullname" . }}-credentials
{{- end -}}

{{/* The kafka: section both roles share. */}}
{{- define "sluice.kafkaConfig" -}}
{{- $k := .Values.kafka -}}
{{- $c := dict "brokers" $k.brokers "topic" $k.topic "create-topic" $k.createTopic "topic-partitions" $k.partitions "topic-replication-factor" $k.replicationFactor -}}
{{- if $k.tls.enabled -}}
{{- $tls := dict "enabled" true "ca-file" "/etc/sluice/tls/kafka/ca.pem" -}}
{{- if $k.tls.mutual -}}
{{- $_ := set $tls "cert-file" "/etc/sluice/tls/kafka/client.pem" -}}
{{- $_ := set $tls "key-file" "/etc/sluice/tls/kafka/client-key.pem" -}}
{{- end -}}
{{- $_ := set $c "tls" $tls -}}
{{- end -}}
{{- if ne $k.sasl.mechanism "none" -}}
{{- $_ := set $c "sasl" (dict "mechanism" $k.sasl.mechanism "username" $k.sasl.username) -}}
{{- end -}}
{{- $_ := set $c "consumer" (dict "group-id" $k.groupId) -}}
{{- toYaml $c -}}
{{- end -}}

{{/* The collector's sluice.yaml. */}}
{{- define "sluice.collectorConfig" -}}
{{- $v := .Values.collector -}}
{{- $in := dict "listen" (list (printf ":%d" (int $v.ports.netflow)) (printf ":%d" (int $v.ports.ipfix))) "receive-buffer" (int $v.receiveBuffer) -}}
{{- $sf := dict "listen" (list (printf ":%d" (int $v.ports.sflow))) "receive-buffer" (int $v.receiveBuffer) -}}
{{- $c := dict "data" "/var/lib/sluice" "http" (dict "listen" ":8080") "log" (dict "level" .Values.log.level "format" "json") -}}
{{- $_ := set $c "collector" (dict "netflow" $in "sflow" $sf) -}}
{{- $_ := set $c "kafka" (include "sluice.kafkaConfig" . | fromYaml) -}}
{{- $_ := set $c "spool" (dict "max-bytes" (int64 $v.spool.maxBytes)) -}}
{{- toYaml (mustMergeOverwrite $c (deepCopy $v.config)) -}}
{{- end -}}

{{/* The pipeline's sluice.yaml. */}}
{{- define "sluice.pipelineConfig" -}}
{{- $v := .Values.pipeline -}}
{{- $ch := .Values.clickhouse -}}
{{- $c := dict "data" "/var/lib/sluice" "http" (dict "listen" ":8080") "log" (dict "level" .Values.log.level "format" "json") -}}
{{- $_ := set $c "clickhouse-http" (dict "listen" "") -}}
{{- $_ := set $c "kafka" (include "sluice.kafkaConfig" . | fromYaml) -}}
{{- $_ := set $c "pipeline" (dict "batch-rows" (int $v.batchRows) "flush-interval" $v.flushInterval) -}}
{{- $server := dict "addrs" $ch.addrs "protocol" $ch.protocol "username" $ch.username -}}
{{- if $ch.tls.enabled -}}
{{- $_ := set $server "tls" (dict "enabled" true "ca-file" "/etc/sluice/tls/clickhouse/ca.pem") -}}
{{- end -}}
{{- $storage := dict "backend" "server" "server" $server -}}
{{- if $ch.cluster -}}
{{- $_ := set $storage "schema" (dict "cluster" $ch.cluster) -}}
{{- end -}}
{{- $_ := set $c "storage" $storage -}}
{{- toYaml (mustMergeOverwrite $c (deepCopy $v.config)) -}}
{{- end -}}

{{/* Security contexts: an unprivileged user, nothing to escalate to. */}}
{{- define "sluice.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "sluice.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "sluice.probes" -}}
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  failureThreshold: 6
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
  failureThreshold: 3
# Up to 5 minutes to start: a worker's first start may still migrate (the
# hook Job off, or a cluster's ON CLUSTER DDL).
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 5
  failureThreshold: 60
{{- end -}}

{{- define "sluice.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
checksum/secret: {{ include (print .root.Template.BasePath "/secret.yaml") .root | sha256sum }}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: "8080"
prometheus.io/path: /metrics
{{- end }}
{{- with .annotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The environment: passwords from the Secret. */}}
{{- define "sluice.kafkaEnv" -}}
{{- $s := .Values.kafka.sasl -}}
{{- if ne $s.mechanism "none" }}
- name: SLUICE_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $s.existingSecret | default (include "sluice.secretName" .) }}
      key: {{ if $s.existingSecret }}{{ $s.existingSecretKey }}{{ else }}kafka-sasl-password{{ end }}
{{- end }}
{{- end -}}

{{/* Volumes of the TLS Secrets, and their mounts. */}}
{{- define "sluice.tlsVolumes" -}}
{{- if .Values.kafka.tls.enabled }}
- name: kafka-tls
  secret:
    secretName: {{ required "kafka.tls.secretName is required with kafka.tls.enabled" .Values.kafka.tls.secretName }}
{{- end }}
{{- end -}}
{{- define "sluice.tlsMounts" -}}
{{- if .Values.kafka.tls.enabled }}
- name: kafka-tls
  mountPath: /etc/sluice/tls/kafka
  readOnly: true
{{- end }}
{{- end -}}
