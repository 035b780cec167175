"""Checks coeur's Kubernetes manifests (deploy/kubernetes) offline.

1. Every resource of a kind Kubernetes knows is validated, strictly (no unknown field),
   against the Kubernetes JSON schemas shipped by `kubernetes-validate`.
2. The resources agree with each other and with coeur: what kustomization.yaml lists exists;
   the three Deployments (coeur, coeur-annuaire, coeur-ror) each read their database URL
   from the Secret CloudNativePG writes for their own cluster (`<cluster>-app`, key `uri`),
   coeur its master key from a Secret, and no secret is a plain value; the services' client
   secrets are the ones coeur's pods mount to register them; the Services and probes name
   container ports that exist; the network policies select pods and database clusters by
   their real labels and open or reach only their ports; every Deployment has a disruption
   budget letting one instance go at a time, and the autoscaler keeps three instances.

Prints one JSON line: {"resources": [...], "deployments": {name: {"probes": {"startup":
path, "liveness": path, "readiness": path}, "ports": {name: n}, "binary": name, "env": [...],
"args": [...]}}} for the caller to check the probe paths against running servers and the
settings against what each binary reads. Exits 1 with the reasons when a check fails.

Usage: python check_manifests.py DIR
"""

import json
import sys
from pathlib import Path

import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.33.0"


def main(folder: Path) -> int:
    errors: list[str] = []
    docs: list[tuple[str, dict]] = []
    for f in sorted(folder.glob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text(encoding="utf-8")):
            if d:
                docs.append((f.name, d))

    kust = [d for _, d in docs if d["kind"] == "Kustomization"]
    if len(kust) != 1:
        errors.append("one kustomization.yaml expected")
    else:
        files = {f.name for f in folder.glob("*.yaml")} - {"kustomization.yaml"}
        listed = set(kust[0].get("resources", []))
        if listed != files:
            errors.append(f"kustomization lists {sorted(listed)}, the folder has {sorted(files)}")

    resources = []
    for name, d in docs:
        if d["kind"] in ("Kustomization", "Cluster"):
            continue
        try:
            kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{name}: {d['kind']}/{d['metadata']['name']}: {e.message} at {list(e.path)}")
        resources.append(f"{d['kind']}/{d['metadata']['name']}")

    clusters = {d["metadata"]["name"]: d for _, d in docs if d["kind"] == "Cluster"}
    deployments = {d["metadata"]["name"]: d for _, d in docs if d["kind"] == "Deployment"}
    for name in ("coeur", "coeur-annuaire", "coeur-ror"):
        if name not in deployments:
            errors.append(f"no Deployment {name}")
    if not clusters or errors:
        print("\n".join(errors or ["no database Cluster"]), file=sys.stderr)
        return 1
    for name, cluster in clusters.items():
        if cluster["apiVersion"] != "postgresql.cnpg.io/v1":
            errors.append(f"Cluster {name}: apiVersion {cluster['apiVersion']}")
        if cluster["spec"].get("instances", 0) < 3:
            errors.append(f"Cluster {name} needs three instances (a primary and two replicas)")
        if not cluster["spec"].get("bootstrap", {}).get("initdb", {}).get("database"):
            errors.append(f"Cluster {name} names no database")
        resources.append(f"Cluster/{name}")

    # Each Deployment: its pods, ports, database, secrets, rollout and probes.
    pods = {}  # Deployment name -> (labels, {port name: number})
    report = {}
    used_clusters = set()
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        labels = pod["metadata"]["labels"]
        if deployment["spec"]["selector"]["matchLabels"].items() - labels.items():
            errors.append(f"Deployment {name}'s selector does not select its pods")
        (container,) = pod["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        pods[name] = (labels, ports)
        env = {e["name"]: e for e in container.get("env", [])}
        refs = [
            e["valueFrom"]["secretKeyRef"]
            for e in env.values()
            if "secretKeyRef" in e.get("valueFrom", {})
            and e["valueFrom"]["secretKeyRef"]["name"].endswith("-db-app")
        ]
        if len(refs) != 1:
            errors.append(f"Deployment {name} must read one database URI from CloudNativePG's Secret")
        else:
            cluster = refs[0]["name"].removesuffix("-app")
            if cluster not in clusters or refs[0]["key"] != "uri":
                errors.append(f"Deployment {name} reads {refs[0]}, not a Cluster's `uri`")
            if cluster in used_clusters:
                errors.append(f"Cluster {cluster} is the database of two Deployments")
            used_clusters.add(cluster)
        for e in env.values():
            if "value" in e and any(w in e["name"] for w in ("SECRET", "PASSWORD", "MASTER_KEY")) and not e["name"].endswith("_FILE"):
                errors.append(f"Deployment {name}: {e['name']} must come from a Secret")
        if name == "coeur" and "secretKeyRef" not in env.get("COEUR_MASTER_KEY", {}).get("valueFrom", {}):
            errors.append("COEUR_MASTER_KEY must come from a Secret")
        least = 3 if name == "coeur" else 2
        if deployment["spec"]["replicas"] < least:
            errors.append(f"Deployment {name}: {least} instances at least")
        if deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] != 0:
            errors.append(f"Deployment {name}: a rolling update must not stop an instance before its successor is ready")
        sc = container["securityContext"]
        if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False):
            errors.append(f"Deployment {name}: the container must have a read-only root and no privilege escalation")
        volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        for m in container.get("volumeMounts", []):
            if m["name"] not in volumes:
                errors.append(f"Deployment {name} mounts unknown volume {m['name']}")
        probes = {}
        for kind in ("startup", "liveness", "readiness"):
            p = container.get(f"{kind}Probe")
            if not p:
                errors.append(f"Deployment {name}: no {kind} probe")
                continue
            if p["httpGet"]["port"] not in ports:
                errors.append(f"Deployment {name}: the {kind} probe's port {p['httpGet']['port']} is not a container port")
            probes[kind] = p["httpGet"]["path"]
        report[name] = {
            "probes": probes,
            "ports": ports,
            "binary": (container.get("command") or ["/usr/local/bin/coeur"])[0].rsplit("/", 1)[-1],
            "env": sorted(env),
            "args": container.get("args", []),
        }
    if used_clusters != set(clusters):
        errors.append(f"Clusters no Deployment uses: {sorted(set(clusters) - used_clusters)}")
    # The secrets the provider's pods mount for the services' clients are those the services read.
    coeur_secrets = {
        v["secret"]["secretName"]
        for v in deployments["coeur"]["spec"]["template"]["spec"].get("volumes", [])
        if "secret" in v
    }
    for name in ("coeur-annuaire", "coeur-ror"):
        theirs = {
            v["secret"]["secretName"]
            for v in deployments[name]["spec"]["template"]["spec"].get("volumes", [])
            if "secret" in v
        }
        if not theirs or not theirs <= coeur_secrets:
            errors.append(f"{name}'s client secret {sorted(theirs)} is not the one coeur registers")

    def selected(selector: dict) -> list[str]:
        return [n for n, (labels, _) in pods.items() if selector.items() <= labels.items()]

    for _, d in docs:
        kind, name = d["kind"], d.get("metadata", {}).get("name")
        if kind == "Service":
            found = selected(d["spec"]["selector"])
            if len(found) != 1:
                errors.append(f"Service {name} selects {found}, not one Deployment's pods")
                continue
            for p in d["spec"]["ports"]:
                if p["targetPort"] not in pods[found[0]][1]:
                    errors.append(f"Service {name} targets unknown port {p['targetPort']}")
        if kind == "NetworkPolicy":
            sel = d["spec"]["podSelector"]["matchLabels"]
            found = selected(sel)
            db = sel.get("cnpg.io/cluster")
            if not found and db not in clusters:
                errors.append(f"NetworkPolicy {name} selects neither a Deployment's pods nor a database")
            for rule in d["spec"].get("ingress", []):
                for p in rule.get("ports", []):
                    if found and p["port"] not in pods[found[0]][1].values():
                        errors.append(f"NetworkPolicy {name} opens port {p['port']}, not its pods'")
            for rule in d["spec"].get("egress", []):
                for to in rule.get("to", []):
                    target = to.get("podSelector", {}).get("matchLabels", {})
                    if "namespaceSelector" in to:
                        continue
                    if target.get("cnpg.io/cluster") in clusters:
                        continue
                    peers = selected(target)
                    if not peers:
                        errors.append(f"NetworkPolicy {name} lets out to {target}, which nothing here is")
                    for p in rule.get("ports", []):
                        if peers and p["port"] not in pods[peers[0]][1].values():
                            errors.append(f"NetworkPolicy {name} lets out to port {p['port']}, not {peers[0]}'s")
        if kind == "PodDisruptionBudget":
            if not selected(d["spec"]["selector"]["matchLabels"]):
                errors.append(f"the disruption budget {name} selects no pod")
            if d["spec"].get("maxUnavailable", 99) > 1:
                errors.append(f"the disruption budget {name} lets more than one instance go")
        if kind == "HorizontalPodAutoscaler":
            if d["spec"]["scaleTargetRef"]["name"] not in deployments:
                errors.append(f"the autoscaler {name} scales an unknown Deployment")
            if d["spec"]["minReplicas"] < 3:
                errors.append(f"the autoscaler {name} may go below three instances")
    for name in deployments:
        if not any(
            d["kind"] == "PodDisruptionBudget" and selected(d["spec"]["selector"]["matchLabels"]) == [name]
            for _, d in docs
        ):
            errors.append(f"Deployment {name} has no disruption budget")

    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    print(json.dumps({"resources": resources, "deployments": report}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
