"""Validate the Kubernetes manifests against the Kubernetes schemas (PyPI
kubernetes-validate, strict: unknown fields are errors), then print the facts a
test checks against the binary: kinds, the container's args, env, probes,
security context, mounts and volumes.

Usage: kubernetes_facts.py FOLDER [KUBERNETES_VERSION]
Prints one JSON line; exits non-zero when a manifest does not validate.
"""

import json
import pathlib
import sys

import kubernetes_validate
import yaml


def main(folder: str, version: str) -> None:
    documents = []
    for path in sorted(pathlib.Path(folder).glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is None:
                continue
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                sys.exit(f"{path}: {error.message} at {list(error.path)}")
            documents.append(document)
    by_kind = {d["kind"]: d for d in documents}
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    print(
        json.dumps(
            {
                "kinds": sorted(by_kind),
                "version": version,
                "args": container["args"],
                "env": {
                    e["name"]: e.get("value", {"secret": e.get("valueFrom", {}).get("secretKeyRef")})
                    for e in container["env"]
                },
                "liveness": container["livenessProbe"]["httpGet"]["path"],
                "readiness": container["readinessProbe"]["httpGet"]["path"],
                "pod_security": pod["securityContext"],
                "container_security": container["securityContext"],
                "mounts": {m["name"]: m["mountPath"] for m in container["volumeMounts"]},
                "volumes": pod["volumes"],
                "service_affinity": by_kind["Service"]["spec"].get("sessionAffinity"),
                "pdb_min_available": by_kind["PodDisruptionBudget"]["spec"]["minAvailable"],
                "hpa_target": by_kind["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"],
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else kubernetes_validate.latest_version())
