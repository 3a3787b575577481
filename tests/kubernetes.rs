//! The Kubernetes manifests (packaging/kubernetes/): valid against the
//! Kubernetes schemas (strict), with what a shared bridge needs, and the pod's
//! own command and environment really serve: probes, tokens, the allowed host.

use std::process::Stdio;

use serde_json::{Value, json};

use crate::support::{
    KEY, MockApi, command,
    http::{HttpServer, http_client, initialize},
    missing_client,
};

const MANIFESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/kubernetes");

/// The facts tests/interop/kubernetes_facts.py prints after validating
/// `folder`; `Err` with its message when it refuses them; `None` when
/// kubernetes-validate is not installed.
async fn manifest_facts(folder: &str) -> Option<Result<Value, String>> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/kubernetes_facts.py"
    );
    let out = tokio::process::Command::new(crate::interop::python())
        .arg(script)
        .arg(folder)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("python runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if stderr.contains("No module named 'kubernetes_validate'")
        && missing_client(
            "kubernetes-validate",
            "pip install -r packaging/requirements.txt",
        )
    {
        return None;
    }
    Some(if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("one JSON line"))
    } else {
        Err(stderr)
    })
}

#[tokio::test]
async fn the_manifests_validate_and_carry_what_a_shared_bridge_needs() {
    let Some(facts) = manifest_facts(MANIFESTS).await else {
        return;
    };
    let facts = facts.unwrap_or_else(|e| panic!("the manifests do not validate: {e}"));
    assert_eq!(
        facts["kinds"],
        json!([
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Service"
        ])
    );
    assert_eq!(facts["liveness"], "/healthz");
    assert_eq!(facts["readiness"], "/readyz");
    assert_eq!(facts["pod_security"]["runAsNonRoot"], true);
    assert_eq!(facts["container_security"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        facts["container_security"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(
        facts["container_security"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    assert_eq!(
        facts["env"]["HANDINGER_API_KEY"]["secret"]["name"],
        "handinger-mcp"
    );
    let tokens = facts["env"]["HANDINGER_HTTP_TOKENS_FILE"].as_str().unwrap();
    let mount = facts["mounts"]["tokens"].as_str().unwrap();
    assert!(
        tokens.starts_with(mount),
        "the token file is in the Secret's mount"
    );
    let token_volume = facts["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "tokens")
        .unwrap();
    assert_eq!(token_volume["secret"]["secretName"], "handinger-mcp");
    assert_eq!(facts["service_affinity"], "None", "no sticky sessions");
    assert_eq!(facts["pdb_min_available"], 1);
    assert_eq!(facts["hpa_target"], "handinger-mcp");

    // A manifest with a field Kubernetes does not know is refused: the check bites.
    let broken = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(MANIFESTS).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replace("imagePullPolicy:", "imagePullPolcy:");
        std::fs::write(broken.path().join(path.file_name().unwrap()), text).unwrap();
    }
    let refused = manifest_facts(broken.path().to_str().unwrap())
        .await
        .unwrap();
    let message = refused.expect_err("an unknown field must not validate");
    assert!(message.contains("imagePullPolcy"), "{message}");
}

/// The pod's args and environment, run here: the probes answer, the token from
/// the Secret's file is required, and the allowed host passes.
#[tokio::test]
async fn the_pods_command_serves_as_the_manifest_configures_it() {
    let Some(facts) = manifest_facts(MANIFESTS).await else {
        return;
    };
    let facts = facts.expect("the manifests validate");
    let mock = MockApi::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let token = "a-token-for-the-bridge-0123456789";
    std::fs::write(secrets.path().join("tokens"), format!("{token}\n")).unwrap();
    let args: Vec<String> = facts["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().replace("0.0.0.0:8080", "127.0.0.1:0"))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = command(&mock.base_url, Some(KEY), &args);
    for (name, value) in facts["env"].as_object().unwrap() {
        let value = match (name.as_str(), value.as_str()) {
            ("HANDINGER_HTTP_TOKENS_FILE", _) => {
                secrets.path().join("tokens").display().to_string()
            }
            ("HANDINGER_STATE_DIR", _) => state.path().display().to_string(),
            (_, Some(value)) => value.to_owned(),
            // From a Secret: the test's key.
            (_, None) => KEY.to_owned(),
        };
        cmd.env(name, value);
    }
    let server = HttpServer::spawn(cmd).await;
    let http = http_client();
    for probe in [&facts["liveness"], &facts["readiness"]] {
        let url = format!("{}{}", server.base, probe.as_str().unwrap());
        let status = http.get(&url).send().await.unwrap().status();
        assert_eq!(status, 200, "{url}");
    }
    let host = facts["env"]["HANDINGER_HTTP_ALLOWED_HOSTS"]
        .as_str()
        .unwrap();
    let post = |token: Option<&'static str>| {
        let mut request = http
            .post(server.mcp_url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("host", host)
            .body(initialize(1).to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(
        post(None).await.unwrap().status(),
        403,
        "a token is required"
    );
    let answer = post(Some(token)).await.unwrap();
    assert_eq!(answer.status(), 200);
    let body = answer.text().await.unwrap();
    assert!(body.contains("handinger-mcp"), "{body}");
}
