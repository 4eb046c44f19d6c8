//! TLS for outgoing HTTPS (MCP servers, the identity provider): rustls with the ring provider.

/// Makes ring rustls' process-wide crypto provider. reqwest is built without a default one;
/// calling this again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
