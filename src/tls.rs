//! TLS for tests and benchmarks: a throwaway certificate authority that
//! issues certificates for any name (written as PEM files for outside
//! clients such as curl, openssl and Python), and a blocking client that
//! speaks raw bytes over TLS.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, ServerName};
use turnstile_core::tls::TlsConfig;

/// A certificate authority made for one test run, and the directory its
/// files go to.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    dir: PathBuf,
}

/// A leaf certificate the test CA issued, as PEM text and files.
pub struct TestCert {
    /// The certificate chain (leaf, then the CA) as PEM.
    pub chain_pem: String,
    /// Its private key as PEM.
    pub key_pem: String,
    /// The leaf certificate, DER.
    pub der: CertificateDer<'static>,
    /// Where the chain was written.
    pub chain_file: PathBuf,
    /// Where the key was written.
    pub key_file: PathBuf,
}

impl TestCa {
    /// A new CA whose files go to a fresh directory under the system's
    /// temporary directory (named after `label`).
    pub fn new(label: &str) -> TestCa {
        let dir = std::env::temp_dir().join(format!(
            "turnstile-tls-{label}-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params
            .distinguished_name
            .push(DnType::CommonName, "Turnstile test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA certificate");
        let ca_pem = cert.pem();
        let ca_der = cert.der().clone();
        std::fs::write(dir.join("ca.pem"), &ca_pem).expect("write CA");
        TestCa {
            issuer: Issuer::new(params, key),
            ca_pem,
            ca_der,
            dir,
        }
    }

    /// The CA certificate as PEM (what a client trusts).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate's file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A certificate for `names` (DNS names or IP addresses), signed by
    /// this CA, written as `<file_stem>.pem` and `<file_stem>.key`.
    pub fn issue(&self, file_stem: &str, names: &[&str]) -> TestCert {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let chain_pem = format!("{}{}", cert.pem(), self.ca_pem);
        let key_pem = key.serialize_pem();
        let chain_file = self.dir.join(format!("{file_stem}.pem"));
        let key_file = self.dir.join(format!("{file_stem}.key"));
        std::fs::write(&chain_file, &chain_pem).expect("write chain");
        std::fs::write(&key_file, &key_pem).expect("write key");
        TestCert {
            chain_pem,
            key_pem,
            der: cert.der().clone(),
            chain_file,
            key_file,
        }
    }

    /// A rustls client configuration that trusts this CA only.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("CA as root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TestCert {
    /// The server configuration presenting this certificate.
    pub fn server_config(&self) -> TlsConfig {
        TlsConfig::from_pem(self.chain_pem.as_bytes(), self.key_pem.as_bytes())
            .expect("server TLS configuration")
    }
}

/// A blocking TLS connection for tests.
pub type TlsClientStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Connects to `addr` over TLS as `server_name` and completes the
/// handshake (so failures show here), with a 10 s read timeout.
pub fn tls_connect(
    addr: SocketAddr,
    server_name: &str,
    config: Arc<rustls::ClientConfig>,
) -> io::Result<TlsClientStream> {
    let tcp = crate::raw::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let session = rustls::ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut stream = rustls::StreamOwned::new(session, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
