#!/usr/bin/env python3
"""One size of the operator scale benchmark (driven by bench/operator_scale.sh).

Against a running kube-apiserver with the CRDs installed and the operator under test
(`apiary operator --namespace NS`, or ToolHive's `thv-operator` watching NS) already running
and idle, it:

1. watches MCPServers (full objects) and the operator's child kinds (metadata only) in NS;
2. creates N MCPServers with 16 concurrent workers (one keep-alive TLS connection each); the
   clock starts as the first create is sent;
3. stops the clock when every server is "done": `.status.observedGeneration ==
   .metadata.generation`, `.status.phase == Pending` (what both operators write for a server
   whose Deployment has no ready pod; there is no kubelet) and every child the operator makes
   for it exists. Apiary: Deployment `N`, Service `mcp-N`, ServiceAccount `N-sa`,
   NetworkPolicy `N`. ToolHive: Deployment `N`, Service `mcp-N-proxy`, ServiceAccounts
   `N-proxy-runner` and `N-sa`, Role and RoleBinding `N-proxy-runner`, ConfigMap
   `N-runconfig`;
4. checks the end state once more with paginated list calls, and reads the peak RSS (VmHWM) and
   CPU time of the operator, kube-apiserver and etcd, and the apiserver's request counts.

Watches instead of 250 ms list polls: a list of 5,000 MCPServers is several MB of JSON, and
listing it four times a second would load the apiserver more than the operator does.

Standard library only. Prints one JSON object on stdout.
"""

import argparse
import http.client
import json
import os
import re
import ssl
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

GROUP = "toolhive.stacklok.dev"
VERSION = "v1beta1"
META_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
META_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def suffixed(suffix, part):
    """Child name `<server><suffix>` -> (server, part)."""
    return lambda n: (n[: len(n) - len(suffix)], part) if n.endswith(suffix) else None


def prefixed(prefix, suffix, part):
    """Child name `<prefix><server><suffix>` -> (server, part)."""
    def owner(n):
        if n.startswith(prefix) and n.endswith(suffix) and len(n) > len(prefix) + len(suffix):
            return n[len(prefix): len(n) - len(suffix)], part
        return None
    return owner


def first(*owners):
    """The first owner function that recognises a name."""
    def owner(n):
        for o in owners:
            found = o(n)
            if found:
                return found
        return None
    return owner


# Per operator, per watched kind: (path prefix, name -> (server name, part) or None). Each part
# in PARTS must exist for a server to be done, besides its status.
CHILD_KINDS = {
    "apiary": {
        "deployments": ("/apis/apps/v1", suffixed("", "deployment")),
        "services": ("/api/v1", prefixed("mcp-", "", "service")),
        "serviceaccounts": ("/api/v1", suffixed("-sa", "serviceaccount")),
        "networkpolicies": ("/apis/networking.k8s.io/v1", suffixed("", "networkpolicy")),
    },
    "toolhive": {
        "deployments": ("/apis/apps/v1", suffixed("", "deployment")),
        "services": ("/api/v1", prefixed("mcp-", "-proxy", "service")),
        "serviceaccounts": ("/api/v1", first(suffixed("-proxy-runner", "proxy-runner account"),
                                             suffixed("-sa", "server account"))),
        "roles": ("/apis/rbac.authorization.k8s.io/v1", suffixed("-proxy-runner", "role")),
        "rolebindings": ("/apis/rbac.authorization.k8s.io/v1", suffixed("-proxy-runner", "rolebinding")),
        "configmaps": ("/api/v1", suffixed("-runconfig", "configmap")),
    },
}
# The label selector of an operator's children, for the final list calls (ToolHive's: none).
CHILD_SELECTOR = {"apiary": "app.kubernetes.io%2Fmanaged-by%3Dapiary", "toolhive": None}


# The children each server of an operator has (the parts the owner functions above name).
PARTS = {
    "apiary": {"deployment", "service", "serviceaccount", "networkpolicy"},
    "toolhive": {"deployment", "service", "proxy-runner account", "server account", "role",
                 "rolebinding", "configmap"},
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Api:
    def __init__(self, server, ca, cert, key):
        url = urllib.parse.urlsplit(server)
        self.host, self.port = url.hostname, url.port
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.load_cert_chain(cert, key)
        self.local = threading.local()

    def connection(self, timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None, accept="application/json", retries=5):
        """A request on this thread's keep-alive connection; retries 429/5xx and broken links."""
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": accept}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(retries + 1):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = self.connection()
            try:
                conn.request(method, path, body=payload, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == retries:
                    raise
                time.sleep(0.1 * (attempt + 1))
                continue
            if resp.status in (429, 500, 502, 503, 504) and attempt < retries:
                time.sleep(0.1 * (attempt + 1))
                continue
            return resp.status, data
        raise RuntimeError("unreachable")

    def list_all(self, path, accept="application/json"):
        items, cont = [], ""
        while True:
            sep = "&" if "?" in path else "?"
            q = f"{path}{sep}limit=500" + (f"&continue={urllib.parse.quote(cont)}" if cont else "")
            status, data = self.request("GET", q, accept=accept)
            if status != 200:
                raise RuntimeError(f"GET {q}: {status} {data[:300]!r}")
            doc = json.loads(data)
            items += doc.get("items") or []
            cont = (doc.get("metadata") or {}).get("continue")
            if not cont:
                return items, doc["metadata"].get("resourceVersion")


class Progress:
    """Per-server completion, fed by the watch threads."""

    def __init__(self, names, parts):
        self.lock = threading.Lock()
        self.want = set(names)
        self.needed = len(parts) + 1  # and the status
        self.parts = {}  # server -> set of parts seen
        self.done_at = {}  # server -> monotonic time it became done
        self.failed = set()
        self.all_done = threading.Event()
        self.events = 0

    def mark(self, server, part, present=True):
        if server not in self.want:
            return
        with self.lock:
            parts = self.parts.setdefault(server, set())
            if present:
                parts.add(part)
            else:
                parts.discard(part)
            if len(parts) == self.needed and server not in self.done_at:
                self.done_at[server] = time.monotonic()
                if len(self.done_at) == len(self.want):
                    self.all_done.set()

    def done(self):
        with self.lock:
            return len(self.done_at)


def server_is_done(obj):
    status = obj.get("status") or {}
    meta = obj["metadata"]
    return (
        status.get("phase") == "Pending"
        and status.get("observedGeneration") is not None
        and status.get("observedGeneration") == meta.get("generation")
    )


def watch(api, path, rv, accept, on_event, stop):
    """Follows one watch (restarting from the last resourceVersion if the stream ends)."""
    while not stop.is_set():
        conn = api.connection(timeout=None)
        q = f"{path}?watch=1&allowWatchBookmarks=false&timeoutSeconds=3600&resourceVersion={rv}"
        conn.request("GET", q, headers={"Accept": accept})
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"watch {path}: {resp.status} {resp.read()[:300]!r}")
        while not stop.is_set():
            line = resp.readline()
            if not line:
                break
            ev = json.loads(line)
            if ev["type"] == "ERROR":
                raise RuntimeError(f"watch {path}: {ev}")
            rv = ev["object"]["metadata"]["resourceVersion"]
            on_event(ev["type"], ev["object"])
        conn.close()


def proc_stat(pid):
    """(cpu seconds, VmRSS KiB, VmHWM KiB, open fds, RssAnon KiB, RssFile KiB) of pid.

    RssAnon is the process's own data (heap, stacks); RssFile the pages of its binary and
    libraries that are mapped, which for a large binary depends on the kernel's fault-around
    and the page cache more than on the process."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        status = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    status[key] = int(value.split()[0])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return (cpu, status.get("VmRSS", 0), status.get("VmHWM", 0), fds,
                status.get("RssAnon", 0), status.get("RssFile", 0))
    except (OSError, IndexError, ValueError):
        return None


REQ_RE = re.compile(r'^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$')
LABEL_RE = re.compile(r'(\w+)="([^"]*)"')


def request_counts(api):
    status, data = api.request("GET", "/metrics", accept="text/plain")
    counts = {}
    if status != 200:
        return counts
    for line in data.decode().splitlines():
        m = REQ_RE.match(line)
        if not m:
            continue
        labels = dict(LABEL_RE.findall(m.group(1)))
        res = labels.get("resource", "")
        if labels.get("subresource"):
            res += "/" + labels["subresource"]
        key = f'{labels.get("verb")} {res}'
        counts[key] = counts.get(key, 0) + float(m.group(2))
        code = labels.get("code", "")
        if not code.startswith("2"):
            key = f"code {code}"
            counts[key] = counts.get(key, 0) + float(m.group(2))
    return counts


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--operator-pid", type=int, required=True)
    p.add_argument("--apiserver-pid", type=int)
    p.add_argument("--etcd-pid", type=int)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--timeout", type=float, default=300, help="give up this long after the first create")
    p.add_argument("--settle", type=float, default=5, help="then watch the operator this long: does it go idle?")
    p.add_argument("--operator", choices=sorted(CHILD_KINDS), default="apiary",
                   help="whose children and status make a server done")
    p.add_argument("--profile", choices=["none", "network"], default="none",
                   help="none: the minimal spec (no permissionProfile, so no egress); "
                        "network: permissionProfile builtin/network (egress to everything)")
    args = p.parse_args()

    api = Api(args.server, args.ca, args.cert, args.key)
    ns, n = args.namespace, args.size
    names = [f"bench-{i:05d}" for i in range(n)]
    kinds = CHILD_KINDS[args.operator]
    progress = Progress(names, PARTS[args.operator])
    pids = {"operator": args.operator_pid, "apiserver": args.apiserver_pid, "etcd": args.etcd_pid}

    # Watches, started from the (empty) current state.
    stop = threading.Event()
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/mcpservers"
    _, rv = api.list_all(base)

    def on_server(kind, obj):
        name = obj["metadata"]["name"]
        progress.events += 1
        if (obj.get("status") or {}).get("phase") == "Failed":
            progress.failed.add(name)
        progress.mark(name, "status", kind != "DELETED" and server_is_done(obj))

    threads = [threading.Thread(target=watch, args=(api, base, rv, "application/json", on_server, stop), daemon=True)]
    for kind, (prefix, owner) in kinds.items():
        path = f"{prefix}/namespaces/{ns}/{kind}"
        _, crv = api.list_all(path, accept=META_LIST_ACCEPT)

        def on_child(ev_type, obj, owner=owner):
            progress.events += 1
            found = owner(obj["metadata"]["name"])
            if found:
                progress.mark(found[0], found[1], ev_type != "DELETED")

        threads.append(threading.Thread(target=watch, args=(api, path, crv, META_ACCEPT, on_child, stop), daemon=True))
    for t in threads:
        t.start()
    time.sleep(1.0)  # let the watches connect

    # Samples of the operator (RSS, open fds) and the progress, every 250 ms.
    timeline, peak = [], {"rss": 0, "fds": 0, "anon": 0}
    created = [0]

    def sampler(t0):
        while not stop.is_set():
            st = proc_stat(args.operator_pid)
            if st:
                peak["rss"] = max(peak["rss"], st[1])
                peak["anon"] = max(peak["anon"], st[4])
                peak["fds"] = max(peak["fds"], st[3])
            timeline.append((round(time.monotonic() - t0, 2), created[0], progress.done(), st[1] if st else None, st[3] if st else None))
            time.sleep(0.25)

    before = {k: proc_stat(v) for k, v in pids.items()}
    self_cpu0 = time.process_time()
    requests_before = request_counts(api)
    with open("/proc/loadavg") as f:
        load_start = f.read().split()[:3]

    # proxyPort: the current field name, which both operators read.
    spec = {"image": "ghcr.io/example/bench-mcp:1.0", "transport": "stdio", "proxyPort": 8080}
    if args.profile == "network":
        spec["permissionProfile"] = {"type": "builtin", "name": "network"}

    def create(name):
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "MCPServer",
            "metadata": {"name": name, "namespace": ns},
            "spec": spec,
        }
        status, data = api.request("POST", base, body)
        if status != 201:
            raise RuntimeError(f"create {name}: {status} {data[:300]!r}")
        created[0] += 1

    t0 = time.monotonic()
    threading.Thread(target=sampler, args=(t0,), daemon=True).start()
    with ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(create, names))
    t_created = time.monotonic()
    finished = progress.all_done.wait(max(0.0, args.timeout - (t_created - t0)))
    t_done = time.monotonic()

    after = {k: proc_stat(v) for k, v in pids.items()}
    self_cpu = time.process_time() - self_cpu0
    requests_after = request_counts(api)
    with open("/proc/loadavg") as f:
        load_end = f.read().split()[:3]

    # Settle: once every server is done, an operator with nothing left to do should go idle.
    stop.set()
    time.sleep(args.settle)
    settled = {k: proc_stat(v) for k, v in pids.items()}
    requests_settled = request_counts(api)
    settle = {
        "seconds": args.settle,
        "cpu_percent": {k: round(100 * (settled[k][0] - after[k][0]) / args.settle)
                        for k in pids if settled.get(k) and after.get(k)},
        "requests_per_s": {k: round((requests_settled.get(k, 0) - requests_after.get(k, 0)) / args.settle, 1)
                           for k in requests_settled
                           if requests_settled.get(k, 0) - requests_after.get(k, 0) > 0},
    }

    # Check the end state with list calls (not only what the watches saw).
    servers, _ = api.list_all(base)
    verified = {"mcpservers_done": sum(1 for s in servers if server_is_done(s)),
                "mcpservers": len(servers)}
    selector = CHILD_SELECTOR[args.operator]
    for kind, (prefix, owner) in kinds.items():
        query = f"?labelSelector={selector}" if selector else ""
        items, _ = api.list_all(f"{prefix}/namespaces/{ns}/{kind}{query}", accept=META_LIST_ACCEPT)
        for item in items:
            found = owner(item["metadata"]["name"])
            if found and found[0] in progress.want:
                verified[found[1]] = verified.get(found[1], 0) + 1

    latencies = sorted(progress.done_at[s] - t0 for s in progress.done_at)

    def pct(q):
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2) if latencies else None

    def milestone(frac):
        need = int(frac * n)
        return round(latencies[need - 1], 2) if need and len(latencies) >= need else None

    deltas = {k: round(requests_after.get(k, 0) - requests_before.get(k, 0))
              for k in set(requests_after) | set(requests_before)}
    deltas = {k: v for k, v in sorted(deltas.items(), key=lambda kv: -kv[1]) if v > 0}
    result = {
        "size": n,
        "operator": args.operator,
        "profile": args.profile,
        "finished": finished,
        "done": progress.done(),
        "failed_phase_seen": len(progress.failed),
        "create_s": round(t_created - t0, 2),
        "converge_s": round(t_done - t0, 2),
        "after_create_s": round(t_done - t_created, 2),
        "servers_per_s": round(n / (t_done - t0), 1),
        "done_50pct_s": milestone(0.5),
        "done_90pct_s": milestone(0.9),
        "latency_p50_s": pct(0.5),
        "latency_p99_s": pct(0.99),
        "load_start": load_start,
        "load_end": load_end,
        "operator_peak_rss_mib": round(after["operator"][2] / 1024, 1) if after["operator"] else None,
        "operator_peak_rss_sampled_mib": round(peak["rss"] / 1024, 1),
        "operator_peak_fds": peak["fds"],
        # The operator's own data, apart from its mapped binary: before the first create, and
        # the highest of the 250 ms samples.
        "operator_anon_mib": {"idle": round(before["operator"][4] / 1024, 1) if before["operator"] else None,
                              "peak_sampled": round(peak["anon"] / 1024, 1)},
        "operator_file_mib": round(after["operator"][5] / 1024, 1) if after["operator"] else None,
        "rss_mib": {k: {"now": round(v[1] / 1024, 1), "peak": round(v[2] / 1024, 1)} for k, v in after.items() if v},
        "cpu_s": {k: round(after[k][0] - before[k][0], 2) for k in pids if after.get(k) and before.get(k)},
        "helper_cpu_s": round(self_cpu, 2),
        "verified": verified,
        "apiserver_requests": deltas,
        "watch_events": progress.events,
        "after_done": settle,
        "timeline": timeline,
    }
    print(json.dumps(result))
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
