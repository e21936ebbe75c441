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

{{/*
Redis WAIT (REDIS_WAIT_REPLICAS): a payment is answered only once that many replicas
acknowledged it. The in-chart Redis is one pod without replicas, so any value above 0
would turn every payment into 503 outcome-unknown after REDIS_WAIT_TIMEOUT_MS.
*/}}
{{- define "payment-api.validateRedisWait" -}}
{{- if and (gt (int .Values.config.redisWaitReplicas) 0) .Values.redis.enabled (not .Values.config.redisUrl) }}
{{- fail (printf "config.redisWaitReplicas is %d, but REDIS_URL is the in-chart Redis (redis.enabled, config.redisUrl empty), which has no replicas: WAIT could never be acknowledged and every payment would answer 503 outcome-unknown. Point config.redisUrl at a Redis with at least that many replicas, or keep config.redisWaitReplicas 0" (int .Values.config.redisWaitReplicas)) }}
{{- end }}
{{- end }}

{{/*
The processor double (processorDouble.enabled): one pod, its charges in memory.
Object names get "-processor" (fullname is at most 52 characters: 62 in all).
*/}}
{{- define "payment-api.processorDoubleName" -}}
{{- printf "%s-processor" (include "payment-api.fullname" .) }}
{{- end }}

{{- define "payment-api.processorDoubleUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "payment-api.processorDoubleName" .) .Release.Namespace (int .Values.processorDouble.port) }}
{{- end }}

{{/* PROCESSOR_URL: config.processorUrl, else the processor double when enabled, else empty (in-process). */}}
{{- define "payment-api.processorUrl" -}}
{{- if .Values.config.processorUrl }}
{{- .Values.config.processorUrl }}
{{- else if .Values.processorDouble.enabled }}
{{- include "payment-api.processorDoubleUrl" . }}
{{- end }}
{{- end }}

{{/*
SIM_PROCESSOR_URL (--processor-url, the simulator's three-way check against the
processor's GET /charges): simulator.processorUrl, else the double when the server
uses it, else empty (a real processor has no GET /charges to read).
*/}}
{{- define "payment-api.simulatorProcessorUrl" -}}
{{- if .Values.simulator.processorUrl }}
{{- .Values.simulator.processorUrl }}
{{- else if and .Values.processorDouble.enabled (not .Values.config.processorUrl) }}
{{- include "payment-api.processorDoubleUrl" . }}
{{- end }}
{{- end }}

{{/*
The TCP port of config.processorUrl, for the server's egress NetworkPolicy: the URL's
own port, else 443 for https and 80 for http.
*/}}
{{- define "payment-api.processorUrlPort" -}}
{{- $url := urlParse .Values.config.processorUrl }}
{{- $port := regexFind ":[0-9]+$" $url.host | trimPrefix ":" }}
{{- if $port }}
{{- $port }}
{{- else if eq $url.scheme "https" }}
{{- 443 }}
{{- else }}
{{- 80 }}
{{- end }}
{{- end }}

{{/*
The processor's files (processor.tokenSecret, caSecret, keySecret) in one projected
volume: one read-only directory without subPath, each Secret's key under a fixed name,
so the PROCESSOR_*_FILE paths do not depend on the key names.
*/}}
{{- define "payment-api.processorMountPath" -}}
/etc/payment-api/processor
{{- end }}

{{- define "payment-api.processorFile" -}}
{{- printf "%s/%s" (include "payment-api.processorMountPath" .ctx) .file }}
{{- end }}

{{- define "payment-api.processorFiles" -}}
{{- or .Values.processor.tokenSecret .Values.processor.caSecret (include "payment-api.processorKeySecret" .) }}
{{- end }}

{{/*
The Secret of PROCESSOR_KEY_SECRET_FILE, which the server requires with a PROCESSOR_URL:
processor.keySecret, else (the processor double, no config.processorUrl) the Secret this
chart generates (processor-key-secret.yaml), else empty (no URL: the key is optional).
An external config.processorUrl without processor.keySecret is refused (validateProcessor).
*/}}
{{- define "payment-api.generatedProcessorKeySecret" -}}
{{- if and .Values.processorDouble.enabled (not .Values.config.processorUrl) (not .Values.processor.keySecret) }}
{{- printf "%s-processor-key" (include "payment-api.fullname" .) }}
{{- end }}
{{- end }}

{{- define "payment-api.processorKeySecret" -}}
{{- default (include "payment-api.generatedProcessorKeySecret" .) .Values.processor.keySecret }}
{{- end }}

{{/* The key of the HMAC key in that Secret: processor.keyKey, or "key" in the generated one. */}}
{{- define "payment-api.processorKeySecretKey" -}}
{{- if include "payment-api.generatedProcessorKeySecret" . }}
{{- "key" }}
{{- else }}
{{- .Values.processor.keyKey }}
{{- end }}
{{- end }}

{{/*
A token or CA for the processor without a PROCESSOR_URL stops the server at start
(PROCESSOR_* without effect: exit 78); a CA without an https:// URL would never be used.
The HMAC key (keySecret) also names payment ids, so it is valid without a URL; with one it
is required (exit 78 without PROCESSOR_KEY_SECRET_FILE): an external processor needs
processor.keySecret, the processor double gets a generated Secret when it is empty.
*/}}
{{- define "payment-api.validateProcessor" -}}
{{- $url := include "payment-api.processorUrl" . }}
{{- if and $url (not (include "payment-api.processorKeySecret" .)) }}
{{- fail (printf "config.processorUrl (%s) is set, but processor.keySecret is empty: with a PROCESSOR_URL the server requires PROCESSOR_KEY_SECRET_FILE, the HMAC key (at least 16 bytes) every replica shares, and exits 78 without it. Create a Secret holding a random key (under processor.keyKey, default key; docs/kubernetes.md, The payment processor) and set processor.keySecret to its name" $url) }}
{{- end }}
{{- if and (or .Values.processor.tokenSecret .Values.processor.caSecret) (not $url) }}
{{- fail "processor.tokenSecret or processor.caSecret is set, but there is no PROCESSOR_URL (config.processorUrl is empty and processorDouble.enabled is false): the server would refuse to start (PROCESSOR_TOKEN_FILE and PROCESSOR_TLS_CA_FILE have no effect without PROCESSOR_URL). Set config.processorUrl, or enable the processor double, or leave them empty" }}
{{- end }}
{{- if .Values.processor.caSecret }}
{{- if not (hasPrefix "https://" $url) }}
{{- fail (printf "processor.caSecret (%s) is set, but PROCESSOR_URL (%q) is not https:// (empty config.processorUrl means the in-process processor or the processor double, plain http): the CA would never be used. Set config.processorUrl to https://..., or leave processor.caSecret empty" .Values.processor.caSecret $url) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Tracing (tracing.enabled): OTEL_EXPORTER_OTLP_ENDPOINT is what turns the server's tracing on,
so enabled without an endpoint is refused rather than rendered as a silent no-op. The batch
span processor exports at most maxExportBatchSize spans at a time from a queue of maxQueueSize.
*/}}
{{- define "payment-api.validateTracing" -}}
{{- if .Values.tracing.enabled }}
{{- if not .Values.tracing.otlpEndpoint }}
{{- fail "tracing.enabled is true, but tracing.otlpEndpoint is empty: the server traces only with OTEL_EXPORTER_OTLP_ENDPOINT. Set it to the base URL of an OTLP/HTTP receiver, e.g. http://otel-collector.observability.svc:4318 (docs/kubernetes.md, Traces), or leave tracing.enabled false" }}
{{- end }}
{{- $bsp := .Values.tracing.batchSpanProcessor }}
{{- if gt (int $bsp.maxExportBatchSize) (int $bsp.maxQueueSize) }}
{{- fail (printf "tracing.batchSpanProcessor.maxExportBatchSize (%d) exceeds maxQueueSize (%d): a batch cannot be larger than the queue it is taken from" (int $bsp.maxExportBatchSize) (int $bsp.maxQueueSize)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The TCP port of tracing.otlpEndpoint, for the server's egress NetworkPolicy: the URL's own
port, else 443 for https and 80 for http.
*/}}
{{- define "payment-api.otlpEndpointPort" -}}
{{- $url := urlParse .Values.tracing.otlpEndpoint }}
{{- $port := regexFind ":[0-9]+$" $url.host | trimPrefix ":" }}
{{- if $port }}
{{- $port }}
{{- else if eq $url.scheme "https" }}
{{- 443 }}
{{- else }}
{{- 80 }}
{{- end }}
{{- end }}

{{/*
OTEL_RESOURCE_ATTRIBUTES: the pod's identity from the downward API (the OTEL_RESOURCE_ATTRIBUTES_*
variables the Deployment defines just before it, expanded by the kubelet as $(NAME)), the
Deployment and container names, the version, then tracing.resourceAttributes (sorted; the SDK
keeps the last of two equal keys, so those replace the chart's).
*/}}
{{- define "payment-api.otelResourceAttributes" -}}
{{- $attributes := list
  "k8s.namespace.name=$(OTEL_RESOURCE_ATTRIBUTES_NAMESPACE)"
  "k8s.pod.name=$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME)"
  "k8s.pod.uid=$(OTEL_RESOURCE_ATTRIBUTES_POD_UID)"
  "k8s.node.name=$(OTEL_RESOURCE_ATTRIBUTES_NODE_NAME)"
  (printf "k8s.deployment.name=%s" (include "payment-api.fullname" .))
  "k8s.container.name=payment-api"
  (printf "service.version=%s" (default .Chart.AppVersion .Values.image.tag)) }}
{{- range $key, $value := .Values.tracing.resourceAttributes }}
{{- $attributes = append $attributes (printf "%s=%s" $key $value) }}
{{- end }}
{{- join "," $attributes }}
{{- end }}
