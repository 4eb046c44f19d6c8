{{/*
What Apiary does in the cluster, and nothing more (derived from the code; docs/DEPLOY.md
explains each rule). Nothing on Secrets: MCP servers get theirs as secretKeyRef env vars,
which the kubelet resolves.
*/}}
{{- define "apiary.rules" -}}
# The operator watches MCPServers and MCPToolConfigs; proposals apply and retire MCPServers
# (server-side apply: create + patch), curation applies and deletes MCPToolConfigs.
- apiGroups: [toolhive.stacklok.dev]
  resources: [mcpservers, mcptoolconfigs]
  verbs: [get, list, watch, create, patch, delete]
# The operator's status (server-side apply on the subresource).
- apiGroups: [toolhive.stacklok.dev]
  resources: [mcpservers/status]
  verbs: [patch]
# Shared OIDC settings that servers reference (oidcConfigRef): read by the operator and by the
# gateway, which enforces them.
- apiGroups: [toolhive.stacklok.dev]
  resources: [mcpoidcconfigs]
  verbs: [get, list, watch]
# MCPExternalAuthConfigs: kept, not acted on; the operator writes a status saying so.
- apiGroups: [toolhive.stacklok.dev]
  resources: [mcpexternalauthconfigs]
  verbs: [get, list, watch]
- apiGroups: [toolhive.stacklok.dev]
  resources: [mcpexternalauthconfigs/status]
  verbs: [patch]
# Remote servers that MCPRemoteProxies and MCPServerEntries declare: read, registered in
# the registry and served by the gateway (no pod), with a status saying so.
- apiGroups: [toolhive.stacklok.dev]
  resources: [mcpremoteproxies, mcpserverentries]
  verbs: [get, list, watch]
- apiGroups: [toolhive.stacklok.dev]
  resources: [mcpremoteproxies/status, mcpserverentries/status]
  verbs: [patch]
# VirtualMCPServers become virtual servers the gateway serves (no pod), drawn from the servers
# of their MCPGroup; both get a status saying what was done.
- apiGroups: [toolhive.stacklok.dev]
  resources: [mcpgroups, virtualmcpservers]
  verbs: [get, list, watch]
- apiGroups: [toolhive.stacklok.dev]
  resources: [mcpgroups/status, virtualmcpservers/status]
  verbs: [patch]
# Children carry blockOwnerDeletion, which needs update on the owner's finalizers.
- apiGroups: [toolhive.stacklok.dev]
  resources: [mcpservers/finalizers]
  verbs: [update]
# The children: applied (create + patch), watched, and read (get) to compare with what is
# rendered and repair drift; the Service is read to replace a port list edited by hand, the
# Deployment also to keep its replica count when spec.replicas is removed.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, list, watch, create, patch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch]
# ConfigMap permission profiles, and Cedar policies (authzConfig type configMap), read by the
# operator and by the gateway.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get]
# The runtime API: the server's running pod and its log lines, and the gateway's attach to a
# stdio server: a websocket GET, authorized as get (and since Kubernetes 1.35 also as create).
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [""]
  resources: [pods/attach]
  verbs: [get, create]
# Events about MCPServers: Warnings (invalid spec, refused apply), drift repairs.
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
