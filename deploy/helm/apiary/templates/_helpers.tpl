{{/* The release's full name, used for every object (63 characters at most). */}}
{{- define "apiary.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The name of cluster-scoped objects: the namespace keeps two releases apart. */}}
{{- define "apiary.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "apiary.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels. `app.kubernetes.io/component: apiary-gateway` is the label the operator's
NetworkPolicies admit to MCP servers, from the gateway namespace only (docs/OPERATOR.md):
Apiary's pods must carry it.
*/}}
{{- define "apiary.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: apiary-gateway
{{- end -}}

{{- define "apiary.labels" -}}
{{ include "apiary.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "apiary.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "apiary.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* True (non-empty) in the namespace-scoped mode; fails on an unknown scope. */}}
{{- define "apiary.namespaced" -}}
{{- if eq .Values.scope "namespace" -}}
true
{{- else if ne .Values.scope "cluster" -}}
{{- fail (printf "scope must be `cluster` or `namespace`, not %q" .Values.scope) -}}
{{- end -}}
{{- end -}}

{{/* The one namespace the operator watches in the namespace-scoped mode. */}}
{{- define "apiary.watchNamespace" -}}
{{- .Values.watchNamespace | default .Release.Namespace -}}
{{- end -}}

{{/* The namespace of Apiary's gateway pods, which the MCP servers' NetworkPolicies admit. */}}
{{- define "apiary.gatewayNamespace" -}}
{{- .Values.gateway.namespace | default .Release.Namespace -}}
{{- end -}}

{{/* The settings Apiary cannot start without, checked before anything is rendered. */}}
{{- define "apiary.required" -}}
{{- if not .Values.oidc.issuer -}}
{{- fail "oidc.issuer is required: without sign-in Apiary only binds to loopback and cannot serve a cluster (docs/DEPLOY.md)" -}}
{{- end -}}
{{- if not .Values.publicUrl -}}
{{- fail "publicUrl is required with sign-in: the identity provider returns to {publicUrl}/auth/callback" -}}
{{- end -}}
{{- if not .Values.database.urlSecret.name -}}
{{- fail "database.urlSecret.name is required: the Secret holding APIARY_DATABASE_URL (postgres://...)" -}}
{{- end -}}
{{- end -}}
