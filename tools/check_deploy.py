#!/usr/bin/env python3
"""check_deploy.py — validates compose.yaml and every manifest under k8s/ without a cluster or a
Docker engine (run by ctest as deploy_manifests). Prints one line per check and exits 1 on any
failure."""
import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOPICS = [f"tessera.{n}.{s}" for n in ("purchases", "ledger", "offers", "notifications") for s in ("v1", "dlq.v1")]
SERVICES = {"rewards": 8081, "offers": 8082, "notifications": 8083}
results = []


def check(ok, what):
    results.append((bool(ok), what))


def compose():
    proc = subprocess.run(["docker-compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"],
                          capture_output=True, text=True, cwd=ROOT)
    check(proc.returncode == 0, "docker-compose config accepts compose.yaml " + proc.stderr.strip()[:200])
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = doc.get("services", {})
    for name in ("kafka", "kafka-topics", "redis", "provider-sink", *SERVICES):
        check(name in services, f"compose: service {name} exists")
    check("appendonly" in " ".join(services.get("redis", {}).get("command", [])), "compose: redis runs with AOF")
    init = " ".join(services.get("kafka-topics", {}).get("command", []))
    for t in TOPICS:
        check(t in init, f"compose: topic job creates {t}")
    for name in SERVICES:
        s = services.get(name, {})
        check(s.get("healthcheck"), f"compose: {name} has a health check")
        deps = s.get("depends_on", {})
        check(isinstance(deps, dict) and all("condition" in v for v in deps.values()),
              f"compose: {name} depends_on with conditions")
        check(s.get("env_file") and "SECRET" not in str(s.get("environment", {})), f"compose: {name} takes secrets from an env file")


def manifests():
    docs = []
    for path in sorted((ROOT / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    for name, doc in docs:
        check(doc.get("apiVersion") and doc.get("kind"), f"{name}: apiVersion and kind")
        check(doc.get("kind") == "Kustomization" or (doc.get("metadata") or {}).get("name"), f"{name}: metadata.name")
    kustomization = next(d for n, d in docs if d.get("kind") == "Kustomization")
    files = {p.name for p in (ROOT / "k8s").glob("*.yaml")} - {"kustomization.yaml", "secret.template.yaml"}
    check(set(kustomization.get("resources", [])) == files, "kustomization lists every manifest (but the secret template)")
    by_kind = {}
    for _, doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    for service, port in SERVICES.items():
        dep = next((d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == f"tessera-{service}"), None)
        check(dep, f"Deployment tessera-{service}")
        if not dep:
            continue
        pod = dep["spec"]["template"]["spec"]
        c = pod["containers"][0]
        check(c.get("image"), f"tessera-{service}: image")
        check(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", f"tessera-{service}: liveness on /healthz")
        check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", f"tessera-{service}: readiness on /readyz")
        res = c.get("resources", {})
        check(res.get("requests", {}).get("cpu") and res.get("limits", {}).get("memory"), f"tessera-{service}: requests and limits")
        check(pod.get("securityContext", {}).get("runAsNonRoot") is True, f"tessera-{service}: non-root")
        check(c.get("securityContext", {}).get("readOnlyRootFilesystem") is True, f"tessera-{service}: read-only root filesystem")
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        check(env.get("TESSERA_HTTP_PORT") == str(port) and c["ports"][0]["containerPort"] == port, f"tessera-{service}: port {port}")
        cm = next(d for d in by_kind["ConfigMap"] if d["metadata"]["name"] == "tessera-config")
        drain_s = int(cm["data"].get("TESSERA_DRAIN_TIMEOUT_MS", "10000")) / 1000
        check(pod.get("terminationGracePeriodSeconds", 30) > drain_s + 5, f"tessera-{service}: grace period longer than the drain")
        for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
            check(any(d["metadata"]["name"] == f"tessera-{service}" for d in by_kind.get(kind, [])), f"tessera-{service}: {kind}")
    topics = {d["spec"]["topicName"] for d in by_kind.get("KafkaTopic", [])}
    for t in TOPICS:
        check(t in topics, f"KafkaTopic {t}")
    check(by_kind.get("NetworkPolicy"), "NetworkPolicy present")
    check(by_kind.get("Kafka"), "Strimzi Kafka present")


compose()
manifests()
for ok, what in results:
    print(("ok    " if ok else "FAIL  ") + what)
failed = sum(1 for ok, _ in results if not ok)
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
