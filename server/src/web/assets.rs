//! The console's static assets under `/pkg`: the hydrate bundle (JavaScript and wasm) and
//! the stylesheet.
//!
//! `.ci/build` names the three files after one hash of their content (`apiary-<hash>.js`,
//! `apiary-<hash>_bg.wasm`, `apiary-<hash>.css`), writes that name to `pkg/bundle-name`, and
//! puts brotli and gzip copies beside each. A new build means new names, so those files are
//! served `immutable` for a year; anything else under `/pkg` may change in place and is cached
//! for five minutes. The precompressed copies are sent to clients that accept them.

use std::path::Path;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::services::ServeDir;

/// The bundle's name when the build wrote none (a site built without hashing, or none).
pub const UNHASHED: &str = "apiary";

/// The file in the `pkg` folder that names the current bundle.
pub const BUNDLE_NAME_FILE: &str = "bundle-name";

/// How long a content-hashed asset may be cached.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// How long any other asset may be cached.
const SHORT: &str = "public, max-age=300";

/// The bundle's name in `site_dir`: the file stem its JavaScript, wasm (`_bg.wasm`) and
/// stylesheet share. [`UNHASHED`] when the build wrote no name, or a name that is not one.
pub fn bundle_name(site_dir: &Path) -> String {
    let file = site_dir.join("pkg").join(BUNDLE_NAME_FILE);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return UNHASHED.to_owned();
    };
    let name = text.trim();
    if is_hashed(name) {
        name.to_owned()
    } else {
        tracing::warn!(file = %file.display(), "the bundle name is not `apiary-<hex>`; using {UNHASHED}");
        UNHASHED.to_owned()
    }
}

/// True for `apiary-` followed by 8 to 64 lower-case hex digits.
fn is_hashed(name: &str) -> bool {
    name.strip_prefix("apiary-").is_some_and(|hash| {
        (8..=64).contains(&hash.len())
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The `/pkg` service over `pkg_dir`, with precompressed copies and cache headers.
pub fn service(pkg_dir: &Path) -> Router {
    Router::new()
        .fallback_service(
            ServeDir::new(pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(axum::middleware::from_fn(cache_headers))
}

/// Marks content-hashed files immutable and everything else short-lived.
async fn cache_headers(request: Request, next: Next) -> Response {
    let file = request.uri().path().rsplit('/').next().unwrap_or_default();
    let stem = file.split(['.', '_']).next().unwrap_or_default();
    let policy = if is_hashed(stem) { IMMUTABLE } else { SHORT };
    let mut response = next.run(request).await;
    if response.status().is_success() || response.status().is_redirection() {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_apiary_and_a_hex_hash_is_a_bundle_name() {
        assert!(is_hashed("apiary-0123456789abcdef"));
        for name in [
            "apiary",
            "apiary-",
            "apiary-0123",
            "apiary-0123456789ABCDEF",
            "apiary-../../etc",
            "other-0123456789abcdef",
        ] {
            assert!(!is_hashed(name), "{name}");
        }
    }

    #[test]
    fn a_missing_or_bad_name_file_means_the_unhashed_bundle() {
        let dir = std::env::temp_dir().join(format!("apiary-assets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("pkg")).expect("a pkg folder");
        assert_eq!(bundle_name(&dir), UNHASHED);
        std::fs::write(dir.join("pkg").join(BUNDLE_NAME_FILE), "../evil\n").expect("write");
        assert_eq!(bundle_name(&dir), UNHASHED);
        std::fs::write(
            dir.join("pkg").join(BUNDLE_NAME_FILE),
            "apiary-00ff00ff00ff00ff\n",
        )
        .expect("write");
        assert_eq!(bundle_name(&dir), "apiary-00ff00ff00ff00ff");
        std::fs::remove_dir_all(&dir).ok();
    }
}
