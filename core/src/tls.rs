//! TLS settings: the certificates a server listener presents, and the roots
//! the client trusts.
//!
//! The engine speaks TLS 1.2 and 1.3 through [`rustls`] (with the `ring`
//! provider), offers ALPN `http/1.1`, and picks a certificate by the name
//! the client asks for (SNI), falling back to the default one.
//!
//! ```no_run
//! use turnstile_core::tls::TlsConfig;
//! use turnstile_core::{Control, Next, Request, ResponseHead, Server};
//!
//! struct NoContent;
//! impl turnstile_core::Handler for NoContent {
//!     fn on_request(&mut self, _: Request) -> Next { Next::write() }
//!     fn on_response(&mut self, res: &mut ResponseHead) -> Next {
//!         res.set_status(turnstile_core::StatusCode::NO_CONTENT);
//!         Next::end()
//!     }
//! }
//!
//! let tls = TlsConfig::from_pem_files("cert.pem", "key.pem")?;
//! let server = Server::bind_tls("127.0.0.1:8443", tls)?.serve(|_: Control| NoContent)?;
//! println!("listening on https://{}", server.local_addr());
//! server.join();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The one protocol the engine speaks, announced by ALPN.
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Why a TLS configuration could not be made.
#[derive(Debug)]
pub enum TlsError {
    /// A PEM file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        error: std::io::Error,
    },
    /// The certificate PEM held no certificate (or one that did not parse).
    NoCertificate,
    /// The key PEM held no private key (PKCS#8, PKCS#1 or SEC1).
    NoPrivateKey,
    /// The key is of a kind rustls cannot sign with, or does not belong to
    /// the certificate.
    Key(rustls::Error),
    /// An SNI name that is not a DNS name.
    InvalidName(String),
    /// A configuration without any certificate.
    Empty,
    /// rustls refused the configuration.
    Rustls(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            TlsError::NoCertificate => f.write_str("no certificate found in the PEM data"),
            TlsError::NoPrivateKey => f.write_str("no private key found in the PEM data"),
            TlsError::Key(e) => write!(f, "unusable private key: {e}"),
            TlsError::InvalidName(name) => write!(f, "{name:?} is not a DNS name"),
            TlsError::Empty => f.write_str("no certificate configured"),
            TlsError::Rustls(e) => write!(f, "TLS configuration refused: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl From<TlsError> for std::io::Error {
    fn from(e: TlsError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

/// What a TLS listener presents: certificates (one default, more by SNI
/// name) and the protocol settings. Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) server: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// One certificate chain and its key, from PEM files (the chain leaf
    /// first, as `certbot` and `openssl` write them).
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsConfig, TlsError> {
        TlsConfig::builder()
            .certificate_files(cert_chain, key)?
            .build()
    }

    /// One certificate chain and its key, from PEM text.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<TlsConfig, TlsError> {
        TlsConfig::builder().certificate(cert_chain, key)?.build()
    }

    /// Several certificates chosen by SNI name.
    ///
    /// ```no_run
    /// use turnstile_core::tls::TlsConfig;
    ///
    /// let tls = TlsConfig::builder()
    ///     .certificate_files("default.pem", "default.key")?
    ///     .sni_certificate_files("api.example.com", "api.pem", "api.key")?
    ///     .build()?;
    /// # Ok::<(), turnstile_core::tls::TlsError>(())
    /// ```
    pub fn builder() -> TlsConfigBuilder {
        TlsConfigBuilder::default()
    }
}

/// Builds a [`TlsConfig`]; see [`TlsConfig::builder`].
#[derive(Default)]
pub struct TlsConfigBuilder {
    default: Option<Arc<CertifiedKey>>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl fmt::Debug for TlsConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfigBuilder")
            .field("default", &self.default.is_some())
            .field("names", &self.by_name.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TlsConfigBuilder {
    /// The certificate for clients that send no SNI name, or one no other
    /// certificate is registered for.
    pub fn certificate(mut self, cert_chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        self.default = Some(certified_key(cert_chain, key)?);
        Ok(self)
    }

    /// [`certificate`](Self::certificate) from PEM files.
    pub fn certificate_files(
        self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let (cert_chain, key) = (read(cert_chain.as_ref())?, read(key.as_ref())?);
        self.certificate(&cert_chain, &key)
    }

    /// The certificate for clients asking for `name` (a DNS name; compared
    /// without regard to case).
    pub fn sni_certificate(
        mut self,
        name: &str,
        cert_chain: &[u8],
        key: &[u8],
    ) -> Result<Self, TlsError> {
        let valid = rustls::pki_types::DnsName::try_from(name).is_ok();
        if !valid {
            return Err(TlsError::InvalidName(name.to_owned()));
        }
        self.by_name
            .insert(name.to_ascii_lowercase(), certified_key(cert_chain, key)?);
        Ok(self)
    }

    /// [`sni_certificate`](Self::sni_certificate) from PEM files.
    pub fn sni_certificate_files(
        self,
        name: &str,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let (cert_chain, key) = (read(cert_chain.as_ref())?, read(key.as_ref())?);
        self.sni_certificate(name, &cert_chain, &key)
    }

    /// The configuration: TLS 1.2 and 1.3, ALPN `http/1.1`, no client
    /// certificates.
    pub fn build(self) -> Result<TlsConfig, TlsError> {
        if self.default.is_none() && self.by_name.is_empty() {
            return Err(TlsError::Empty);
        }
        let resolver = SniResolver {
            default: self.default,
            by_name: self.by_name,
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsError::Rustls)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        Ok(TlsConfig {
            server: Arc::new(config),
        })
    }
}

/// The crypto the engine uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        path: path.to_owned(),
        error,
    })
}

/// Parses a PEM chain and key, and checks that they belong together.
fn certified_key(cert_chain: &[u8], key: &[u8]) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoCertificate)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|_| TlsError::NoPrivateKey)?;
    CertifiedKey::from_der(chain, key, &provider())
        .map(Arc::new)
        .map_err(TlsError::Key)
}

/// Picks the certificate registered for the client's SNI name, else the
/// default one.
#[derive(Debug)]
struct SniResolver {
    default: Option<Arc<CertifiedKey>>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // rustls hands SNI names over lower-cased and validated.
        hello
            .server_name()
            .and_then(|name| self.by_name.get(name))
            .or(self.default.as_ref())
            .cloned()
    }
}

/// The roots and settings the client verifies servers with.
pub(crate) fn client_config(extra_roots: &[CertificateDer<'static>]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for root in extra_roots {
        if let Err(e) = roots.add(root.clone()) {
            log::warn!("an extra root certificate was refused: {e}");
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Arc::new(config)
}

/// Parses PEM certificates (for extra client roots).
pub(crate) fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoCertificate)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(certs)
}
