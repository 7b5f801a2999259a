//! Trusting the server's development certificate by its hash.
//!
//! A Stadium server without configured certificates generates a self-signed
//! one at start and serves the SHA-256 of its DER at `/api/cert-hash`. No CA
//! vouches for it, so the client pins it instead: the handshake succeeds iff
//! the leaf certificate hashes to the expected value and the server proves it
//! holds that certificate's key. Names and validity dates are not checked;
//! the pin already says which certificate is meant.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Deserialize;

/// How long fetching the hash may take before the connection attempt fails.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the certificate hash could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum CertHashError {
    /// The HTTP request failed or was answered with an error status.
    #[error("fetching {url}")]
    Fetch {
        /// The URL asked.
        url: String,
        /// What went wrong.
        source: reqwest::Error,
    },
    /// The answer is not `{"sha256": "<hex>"}`.
    #[error("{url} did not answer with a certificate hash")]
    Body {
        /// The URL asked.
        url: String,
        /// Why the body did not parse.
        source: serde_json::Error,
    },
    /// The hash is not 64 hexadecimal digits.
    #[error("certificate hash {0:?} is not 64 hex digits")]
    Invalid(String),
}

/// A SHA-256 certificate fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertHash([u8; 32]);

impl CertHash {
    /// Parses 64 hex digits, either case, surrounding space ignored.
    pub fn parse(hex_digits: &str) -> Result<Self, CertHashError> {
        let invalid = || CertHashError::Invalid(hex_digits.to_owned());
        let bytes = hex::decode(hex_digits.trim()).map_err(|_| invalid())?;
        bytes.try_into().map(CertHash).map_err(|_| invalid())
    }

    /// The fingerprint of a DER-encoded certificate.
    pub fn of(cert_der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, cert_der);
        CertHash(
            digest
                .as_ref()
                .try_into()
                .expect("SHA-256 digests are 32 bytes"),
        )
    }

    /// The fingerprint as lower-case hex, as the server prints and serves it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

#[derive(Deserialize)]
struct CertHashBody {
    sha256: String,
}

/// Asks a server's HTTP listener for its certificate hash:
/// `GET http://HOST:PORT/api/cert-hash`, answered `{"sha256": "<hex>"}`.
///
/// `host` is as it appears in a URL (IPv6 addresses in brackets).
pub async fn fetch_cert_hash(host: &str, http_port: u16) -> Result<CertHash, CertHashError> {
    let url = format!("http://{host}:{http_port}/api/cert-hash");
    let fetch = |source| CertHashError::Fetch {
        url: url.clone(),
        source,
    };
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(fetch)?;
    let response = client
        .get(&url)
        .send()
        .await
        .and_then(|r| r.error_for_status());
    let body = response.map_err(fetch)?.bytes().await.map_err(fetch)?;
    let body: CertHashBody =
        serde_json::from_slice(&body).map_err(|source| CertHashError::Body {
            url: url.clone(),
            source,
        })?;
    CertHash::parse(&body.sha256)
}

/// Accepts exactly one server certificate, named by its SHA-256.
#[derive(Debug)]
pub struct PinnedCertVerifier {
    pin: CertHash,
    provider: Arc<CryptoProvider>,
}

impl PinnedCertVerifier {
    /// A verifier for the certificate with this hash, checking handshake
    /// signatures with the provider's algorithms.
    pub fn new(pin: CertHash, provider: Arc<CryptoProvider>) -> Self {
        Self { pin, provider }
    }
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if CertHash::of(end_entity) == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    // QUIC is TLS 1.3 only and the client offers nothing else, but should a
    // TLS 1.2 handshake ever reach here it is held to the same proof of key.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn self_signed() -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn verify(verifier: &PinnedCertVerifier, cert: &CertificateDer<'_>) -> bool {
        let name = ServerName::try_from("localhost").unwrap();
        verifier
            .verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .is_ok()
    }

    #[test]
    fn pinned_certificate_is_accepted() {
        let cert = self_signed();
        let verifier = PinnedCertVerifier::new(CertHash::of(&cert), ring());
        assert!(verify(&verifier, &cert));
    }

    #[test]
    fn any_other_certificate_is_rejected() {
        let pinned = self_signed();
        let other = self_signed();
        let verifier = PinnedCertVerifier::new(CertHash::of(&pinned), ring());
        assert!(!verify(&verifier, &other));
    }

    #[test]
    fn hashes_parse_from_either_case_and_print_lower_case() {
        let upper = "AB".repeat(32);
        let hash = CertHash::parse(&format!(" {upper}\n")).unwrap();
        assert_eq!(hash.to_hex(), "ab".repeat(32));
        assert!(CertHash::parse("abcd").is_err());
        assert!(CertHash::parse(&"zz".repeat(32)).is_err());
    }
}
