"""Checks coeur's Kubernetes manifests (deploy/kubernetes) offline.

1. Every resource of a kind Kubernetes knows is validated, strictly (no unknown field),
   against the Kubernetes JSON schemas shipped by `kubernetes-validate`.
2. The resources agree with each other and with coeur: what kustomization.yaml lists exists;
   the Deployment reads the database URL from the Secret CloudNativePG writes for the
   cluster (`<cluster>-app`, key `uri`) and the master key from a Secret; the Services and
   probes name container ports that exist; the network policies select the pods and the
   database cluster by their real labels; the disruption budget and the autoscaler keep at
   least two instances serving.

Prints one JSON line: {"resources": [...], "probes": {"startup": path, "liveness": path,
"readiness": path}, "ports": {"http": n, "card": n, "admin": n}} for the caller to check the
probe paths against a running coeur. Exits 1 with the reasons when a check fails.

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

    def one(kind: str) -> dict:
        found = [d for _, d in docs if d["kind"] == kind]
        if len(found) != 1:
            errors.append(f"one {kind} expected, found {len(found)}")
            return {}
        return found[0]

    cluster = one("Cluster")
    deployment = one("Deployment")
    if not cluster or not deployment:
        print("\n".join(errors), file=sys.stderr)
        return 1
    if cluster["apiVersion"] != "postgresql.cnpg.io/v1":
        errors.append(f"Cluster apiVersion {cluster['apiVersion']}")
    if cluster["spec"].get("instances", 0) < 3:
        errors.append("the database cluster needs three instances (a primary and two replicas)")
    if not cluster["spec"].get("bootstrap", {}).get("initdb", {}).get("database"):
        errors.append("the database cluster names no database")
    resources.append(f"Cluster/{cluster['metadata']['name']}")

    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    if deployment["spec"]["selector"]["matchLabels"].items() - labels.items():
        errors.append("the Deployment's selector does not select its pods")
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = {e["name"]: e for e in container.get("env", [])}
    db = env.get("COEUR_DATABASE_URL", {}).get("valueFrom", {}).get("secretKeyRef", {})
    if db != {"name": f"{cluster['metadata']['name']}-app", "key": "uri"}:
        errors.append(f"COEUR_DATABASE_URL must come from CloudNativePG's Secret, not {db}")
    if "secretKeyRef" not in env.get("COEUR_MASTER_KEY", {}).get("valueFrom", {}):
        errors.append("COEUR_MASTER_KEY must come from a Secret")
    if deployment["spec"]["replicas"] < 3:
        errors.append("three instances at least")
    if deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] != 0:
        errors.append("a rolling update must not stop an instance before its successor is ready")
    sc = container["securityContext"]
    if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False):
        errors.append("the container must have a read-only root and no privilege escalation")

    probes = {}
    for kind in ("startup", "liveness", "readiness"):
        p = container.get(f"{kind}Probe")
        if not p:
            errors.append(f"no {kind} probe")
            continue
        if p["httpGet"]["port"] not in ports:
            errors.append(f"the {kind} probe's port {p['httpGet']['port']} is not a container port")
        probes[kind] = p["httpGet"]["path"]

    for _, d in docs:
        if d["kind"] == "Service":
            sel = d["spec"]["selector"]
            if sel.items() - labels.items():
                errors.append(f"Service {d['metadata']['name']} selects no coeur pod")
            for p in d["spec"]["ports"]:
                if p["targetPort"] not in ports:
                    errors.append(f"Service {d['metadata']['name']} targets unknown port {p['targetPort']}")
        if d["kind"] == "NetworkPolicy":
            sel = d["spec"]["podSelector"]["matchLabels"]
            ours = sel.items() <= labels.items()
            if not ours and sel != {"cnpg.io/cluster": cluster["metadata"]["name"]}:
                errors.append(f"NetworkPolicy {d['metadata']['name']} selects neither coeur nor its database")
            for rule in d["spec"].get("ingress", []):
                for p in rule.get("ports", []):
                    if ours and p["port"] not in ports.values():
                        errors.append(f"NetworkPolicy {d['metadata']['name']} opens port {p['port']}, not coeur's")
        if d["kind"] == "PodDisruptionBudget":
            if d["spec"]["selector"]["matchLabels"].items() - labels.items():
                errors.append("the disruption budget selects no coeur pod")
            if d["spec"].get("maxUnavailable", 99) > 1:
                errors.append("the disruption budget lets more than one instance go")
        if d["kind"] == "HorizontalPodAutoscaler":
            if d["spec"]["scaleTargetRef"]["name"] != deployment["metadata"]["name"]:
                errors.append("the autoscaler scales another Deployment")
            if d["spec"]["minReplicas"] < 3:
                errors.append("the autoscaler may go below three instances")

    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    print(json.dumps({"resources": resources, "probes": probes, "ports": ports}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
