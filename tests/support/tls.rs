//! An HTTPS front for the mock API, as the real API is met: TLS with a
//! certificate from a test CA, HTTP/2 or HTTP/1.1 chosen by ALPN (HTTP/2 first),
//! each request passed on to the plain mock (which records and answers it). The
//! CA is written to a PEM file, for the bridge's `SSL_CERT_FILE`.

use std::{
    convert::Infallible,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, Version, body::Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};

/// A running front; it stops with the test's runtime.
pub struct TlsFront {
    /// `https://127.0.0.1:PORT`
    pub base_url: String,
    /// The test CA's certificate (PEM), the only root that trusts this front.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
    connections: Arc<AtomicUsize>,
    versions: Arc<Mutex<Vec<Version>>>,
}

impl TlsFront {
    /// Serve, passing each request on to `upstream` (the mock's base URL);
    /// `max_streams` is the SETTINGS_MAX_CONCURRENT_STREAMS it announces to an
    /// HTTP/2 client.
    pub async fn start(upstream: &str, max_streams: u32) -> Self {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let (ca_pem, chain, key) =
            certificates(&format!("handinger-mcp test CA {}", rand_suffix()));
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("test-ca.pem");
        std::fs::write(&ca_file, ca_pem).unwrap();
        let mut tls = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(tls));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("https://{}", listener.local_addr().unwrap());
        let forward = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .build()
            .unwrap();
        let upstream = Arc::new(upstream.trim_end_matches('/').to_owned());
        let connections = Arc::new(AtomicUsize::new(0));
        let versions = Arc::new(Mutex::new(Vec::new()));
        let (counted, seen) = (connections.clone(), versions.clone());
        tokio::spawn(async move {
            let mut http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            http.http2().max_concurrent_streams(max_streams);
            let http = Arc::new(http);
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, http) = (acceptor.clone(), http.clone());
                let (forward, upstream, seen) = (forward.clone(), upstream.clone(), seen.clone());
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        seen.lock().unwrap().push(request.version());
                        let (forward, upstream) = (forward.clone(), upstream.clone());
                        async move { Ok::<_, Infallible>(pass_on(&forward, &upstream, request).await) }
                    });
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Self {
            base_url,
            ca_file,
            _dir: dir,
            connections,
            versions,
        }
    }

    /// The HTTP version of each request so far.
    pub fn versions(&self) -> Vec<Version> {
        self.versions.lock().unwrap().clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Tells one front's CA from another's.
fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A test CA named `ca_name` and a certificate it signed for 127.0.0.1 and
/// localhost: the CA as PEM, the chain and the key for rustls.
fn certificates(
    ca_name: &str,
) -> (
    String,
    Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>,
    PrivateKeyDer<'static>,
) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let ca_issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let leaf = params.signed_by(&key, &ca_issuer).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (ca.pem(), vec![leaf.der().clone()], key)
}

/// The request as the mock should see it, and the mock's answer as it came.
async fn pass_on(
    forward: &reqwest::Client,
    upstream: &str,
    request: Request<Incoming>,
) -> Response<Full<bytes::Bytes>> {
    let (head, body) = request.into_parts();
    let path = head.uri.path_and_query().map_or("/", |p| p.as_str());
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut outgoing = forward.request(head.method, format!("{upstream}{path}"));
    for (name, value) in &head.headers {
        outgoing = outgoing.header(name, value);
    }
    let Ok(answer) = outgoing.body(body).send().await else {
        return Response::builder()
            .status(502)
            .body(Full::default())
            .unwrap();
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != hyper::header::CONNECTION && name != hyper::header::TRANSFER_ENCODING {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response.body(Full::new(bytes)).unwrap()
}
