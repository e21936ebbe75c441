{{/* Chart name, truncated for label values. */}}
{{- define "payment-api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name; 52 characters leave room for the suffixes below (-simulator-NNN). */}}
{{- define "payment-api.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "payment-api.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "payment-api.commonLabels" -}}
helm.sh/chart: {{ include "payment-api.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "payment-api.name" . }}
{{- end }}

{{/* The server: selectors use name + instance only. */}}
{{- define "payment-api.selectorLabels" -}}
app.kubernetes.io/name: {{ include "payment-api.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "payment-api.labels" -}}
{{ include "payment-api.selectorLabels" . }}
app.kubernetes.io/component: server
{{ include "payment-api.commonLabels" . }}
{{- end }}

{{/*
Other components get their own app.kubernetes.io/name, so the server's selector
(name + instance) never matches their pods. Call with (dict "ctx" $ "component" "redis").
*/}}
{{- define "payment-api.componentSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-%s" (include "payment-api.name" .ctx) .component | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end }}

{{- define "payment-api.componentLabels" -}}
{{ include "payment-api.componentSelectorLabels" . }}
app.kubernetes.io/component: {{ .component }}
{{ include "payment-api.commonLabels" .ctx }}
{{- end }}

{{- define "payment-api.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "payment-api.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is given (production). */}}
{{- define "payment-api.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "payment-api.redisUrl" -}}
{{- if .Values.config.redisUrl }}
{{- .Values.config.redisUrl }}
{{- else if .Values.redis.enabled }}
{{- printf "redis://%s-redis:%d" (include "payment-api.fullname" .) (int .Values.redis.service.port) }}
{{- else }}
{{- fail "config.redisUrl is required when redis.enabled is false (an external Redis)" }}
{{- end }}
{{- end }}

{{/* The in-cluster base URL of the API, for the simulator and the test pod. */}}
{{- define "payment-api.internalUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "payment-api.fullname" .) .Release.Namespace (int .Values.service.port) }}
{{- end }}

{{/*
Grace period: the drain (readiness 503 but still serving), then up to 15 s to finish
in-flight requests and close Redis, plus a margin. Explicit values below that fail.
*/}}
{{- define "payment-api.terminationGracePeriodSeconds" -}}
{{- $drain := int .Values.config.shutdownDrainSeconds }}
{{- $grace := int (default (add $drain 25) .Values.terminationGracePeriodSeconds) }}
{{- if le $grace (add $drain 15) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed config.shutdownDrainSeconds + 15 (%d)" $grace (add $drain 15)) }}
{{- end }}
{{- $grace }}
{{- end }}

{{/* Pod and container security contexts shared by the chart's own small pods. */}}
{{- define "payment-api.restrictedContainerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
API-key authentication. The server's keys Secret is mounted as a directory (never with
subPath: a subPath mount is fixed at container start and misses Secret updates) and its
key projected to a fixed file name, so API_KEYS_FILE does not depend on auth.key.
*/}}
{{- define "payment-api.authMountPath" -}}
/etc/payment-api/auth
{{- end }}

{{- define "payment-api.authKeysFile" -}}
{{- printf "%s/api-keys" (include "payment-api.authMountPath" .) }}
{{- end }}

{{/* With authentication on, the helm test pod and the simulator Job need a client key. */}}
{{- define "payment-api.validateAuth" -}}
{{- if and .Values.auth.existingSecret (not .Values.auth.clientSecret) }}
{{- fail (printf "auth.existingSecret (%s) turns authentication on, but auth.clientSecret is empty: the helm test pod and the simulator Job could not authenticate. Create a Secret holding a client key <key-id>.<secret> (key auth.clientSecretKey, default api-key) and set auth.clientSecret to its name" .Values.auth.existingSecret) }}
{{- end }}
{{- end }}

{{/*
TLS to Redis. The Secret is mounted as a directory with its keys projected to fixed file
names (ca.crt, tls.crt, tls.key), so the REDIS_TLS_* paths do not depend on the key names.
Call payment-api.redisTLSFile with (dict "ctx" $ "file" "ca.crt").
*/}}
{{- define "payment-api.redisTLSMountPath" -}}
/etc/payment-api/redis-tls
{{- end }}

{{- define "payment-api.redisTLSFile" -}}
{{- printf "%s/%s" (include "payment-api.redisTLSMountPath" .ctx) .file }}
{{- end }}

{{/* TLS files without a rediss:// URL are a mistake: the server would never use them. */}}
{{- define "payment-api.validateRedisTLS" -}}
{{- if .Values.redisTLS.existingSecret }}
{{- $url := include "payment-api.redisUrl" . }}
{{- range $node := splitList "," $url }}
{{- if not (hasPrefix "rediss://" (trim $node)) }}
{{- fail (printf "redisTLS.existingSecret (%s) is set, but config.redisUrl does not use rediss:// for every node (empty means the in-chart Redis, plain redis://): the TLS files would never be used. Set config.redisUrl to rediss://host:port, or leave redisTLS.existingSecret empty" $.Values.redisTLS.existingSecret) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
