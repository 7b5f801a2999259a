//! TLS material for QUIC: operator-supplied PEM files or a generated
//! development certificate that local clients trust by its SHA-256.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate chain, its key, and the hash clients pin.
pub struct Identity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
    /// Lower-case hex SHA-256 of the leaf certificate's DER.
    pub sha256: String,
}

impl Identity {
    /// Loads a PEM chain and key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> anyhow::Result<Self> {
        let chain = CertificateDer::pem_file_iter(cert)
            .with_context(|| format!("reading {}", cert.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("parsing {}", cert.display()))?;
        let leaf = chain
            .first()
            .with_context(|| format!("no certificate in {}", cert.display()))?;
        let sha256 = fingerprint(leaf);
        let key = PrivateKeyDer::from_pem_file(key)
            .with_context(|| format!("reading key {}", key.display()))?;
        Ok(Self { chain, key, sha256 })
    }

    /// Generates a self-signed P-256 certificate for `localhost` and the
    /// loopback addresses, valid for 13 days: under the 14-day limit browsers
    /// set for certificates pinned by hash.
    pub fn development() -> anyhow::Result<Self> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let mut params = rcgen::CertificateParams::new(names)?;
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(13);
        let cert = params.self_signed(&key)?;
        let der = cert.der().clone();
        let sha256 = fingerprint(&der);
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok(Self {
            chain: vec![der],
            key,
            sha256,
        })
    }

    /// A QUIC server configuration using only the `ring` crypto provider.
    pub fn quic_server_config(&self) -> anyhow::Result<quinn::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        tls.alpn_protocols = vec![stadium_shared::QUIC_ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)?;
        Ok(quinn::ServerConfig::with_crypto(Arc::new(crypto)))
    }
}

/// Lower-case hex SHA-256 of a certificate's DER.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, cert.as_ref()))
}
