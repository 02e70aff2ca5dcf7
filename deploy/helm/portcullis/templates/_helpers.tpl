{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "portcullis.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "portcullis.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portcullis.labels" -}}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The workload kind: a StatefulSet only when each replica claims a spool volume. */}}
{{- define "portcullis.kind" -}}
{{- if .Values.spool.persistentVolumeClaim.enabled -}}StatefulSet{{- else -}}Deployment{{- end -}}
{{- end -}}

{{/* The bundle ConfigMap mounted over the image's bundle directory; empty: none. */}}
{{- define "portcullis.bundleConfigMap" -}}
{{- if .Values.bundle.files -}}
{{- printf "%s-bundle" (include "portcullis.fullname" .) -}}
{{- else -}}
{{- .Values.bundle.existingConfigMap -}}
{{- end -}}
{{- end -}}

{{/*
portcullis.config renders portcullis.yaml: .Values.config plus the keys the
chart owns, which must agree with the pod spec (ports, mounts, grace).
*/}}
{{- define "portcullis.config" -}}
{{- $b := .Values.bundle -}}
{{- $sources := 0 -}}
{{- range (list (not (empty $b.files)) (not (empty $b.existingConfigMap)) (not (empty $b.url))) -}}
{{- if . }}{{ $sources = add1 $sources }}{{ end -}}
{{- end -}}
{{- if gt $sources 1 -}}
{{- fail "bundle: set at most one of files, existingConfigMap and url" -}}
{{- end -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- $listen := deepCopy (get $cfg "listen" | default dict) -}}
{{- range (list "proxy" "admin" "drain_delay" "shutdown_grace" "tls_cert_file" "tls_key_file") -}}
{{- if hasKey $listen . -}}
{{- fail (printf "config.listen.%s is set by the chart (ports, shutdown, tls)" .) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $listen "proxy" (printf ":%d" (int .Values.ports.proxy)) -}}
{{- $_ = set $listen "admin" (printf ":%d" (int .Values.ports.admin)) -}}
{{- $_ = set $listen "drain_delay" (printf "%ds" (int .Values.shutdown.drainDelaySeconds)) -}}
{{- $_ = set $listen "shutdown_grace" (printf "%ds" (int .Values.shutdown.shutdownGraceSeconds)) -}}
{{- if .Values.tls.secretName -}}
{{- $_ = set $listen "tls_cert_file" "/etc/portcullis/tls/tls.crt" -}}
{{- $_ = set $listen "tls_key_file" "/etc/portcullis/tls/tls.key" -}}
{{- end -}}
{{- $_ = set $cfg "listen" $listen -}}
{{- $policy := deepCopy (get $cfg "policy" | default dict) -}}
{{- if hasKey $policy "bundles" -}}
{{- fail "config.policy.bundles is set by the chart (bundle)" -}}
{{- end -}}
{{- if $b.url -}}
{{- $src := dict "name" "portcullis" "url" $b.url "persist" true "polling" (dict "min_delay" (printf "%ds" (int $b.polling.minDelaySeconds)) "max_delay" (printf "%ds" (int $b.polling.maxDelaySeconds))) -}}
{{- if $b.service -}}
{{- $_ = set $src "service" $b.service -}}
{{- end -}}
{{- $_ = set $policy "bundles" (list $src) -}}
{{- $_ = set $policy "persistence_directory" "/var/lib/portcullis/bundles" -}}
{{- else -}}
{{- $_ = set $policy "bundles" (list (dict "name" "portcullis" "path" "/etc/portcullis/bundles/portcullis")) -}}
{{- end -}}
{{- $_ = set $cfg "policy" $policy -}}
{{- $dl := get $cfg "decision_log" | default dict -}}
{{- if and (kindIs "map" $dl) (get $dl "http") -}}
{{- $http := get $dl "http" -}}
{{- if not (hasKey $http "spool_dir") -}}
{{- $_ = set $http "spool_dir" "/var/lib/portcullis/spool" -}}
{{- end -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* portcullis.pod is the pod template of the Deployment or StatefulSet. */}}
{{- define "portcullis.pod" -}}
metadata:
  labels:
    {{- include "portcullis.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A changed config rolls the pods (zero downtime: see updateStrategy and
    # the PDB); bundle files reload live and are not part of the checksum.
    checksum/config: {{ include "portcullis.config" . | sha256sum }}
    {{- if .Values.metrics.scrapeAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ .Values.ports.admin | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "portcullis.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  terminationGracePeriodSeconds: {{ add .Values.shutdown.drainDelaySeconds .Values.shutdown.shutdownGraceSeconds .Values.shutdown.slackSeconds }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  affinity:
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: {{ .Values.podAntiAffinity.weight }}
          podAffinityTerm:
            topologyKey: {{ .Values.podAntiAffinity.topologyKey }}
            labelSelector:
              matchLabels:
                {{- include "portcullis.selectorLabels" . | nindent 16 }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: portcullis
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["run", "--config", "/etc/portcullis/config/portcullis.yaml"]
      ports:
        - name: proxy
          containerPort: {{ .Values.ports.proxy }}
        - name: admin
          containerPort: {{ .Values.ports.admin }}
      # Ready only with a policy loaded and keys usable; unready at once on
      # SIGTERM (drain).
      readinessProbe:
        httpGet:
          path: /readyz
          port: admin
        periodSeconds: 5
        failureThreshold: 2
      livenessProbe:
        httpGet:
          path: /healthz
          port: admin
        periodSeconds: 10
        failureThreshold: 3
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        privileged: false
        capabilities:
          drop: [ALL]
      volumeMounts:
        - name: config
          mountPath: /etc/portcullis/config
          readOnly: true
        {{- if include "portcullis.bundleConfigMap" . }}
        - name: bundle
          mountPath: /etc/portcullis/bundles/portcullis
          readOnly: true
        {{- end }}
        {{- if .Values.tls.secretName }}
        - name: tls
          mountPath: /etc/portcullis/tls
          readOnly: true
        {{- end }}
        - name: spool
          mountPath: /var/lib/portcullis/spool
        {{- if .Values.bundle.url }}
        - name: persisted-bundles
          mountPath: /var/lib/portcullis/bundles
        {{- end }}
        - name: tmp
          mountPath: /tmp
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "portcullis.fullname" . }}
    {{- with include "portcullis.bundleConfigMap" . }}
    - name: bundle
      configMap:
        name: {{ . }}
    {{- end }}
    {{- if .Values.tls.secretName }}
    - name: tls
      secret:
        secretName: {{ .Values.tls.secretName }}
    {{- end }}
    {{- if not .Values.spool.persistentVolumeClaim.enabled }}
    # Deleted with the pod: see values.yaml, spool.
    - name: spool
      emptyDir:
        sizeLimit: {{ .Values.spool.sizeLimit }}
    {{- end }}
    {{- if .Values.bundle.url }}
    - name: persisted-bundles
      emptyDir:
        sizeLimit: {{ .Values.bundle.persistSizeLimit }}
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
