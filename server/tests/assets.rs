//! The console's assets: pages link the content-hashed bundle the build named, which is
//! served with its precompressed copies and cached as immutable; other files under `/pkg`
//! are cached briefly.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use apiary_server::web::{router, AppState};

const NAME: &str = "apiary-00ff00ff00ff00ff";

/// A site folder as `.ci/build` leaves it, with small stand-ins for the three files.
fn site() -> std::path::PathBuf {
    let site = std::env::temp_dir().join(format!("apiary-site-{}", uuid::Uuid::new_v4()));
    let pkg = site.join("pkg");
    std::fs::create_dir_all(&pkg).expect("a pkg folder");
    for (file, text) in [
        (format!("{NAME}.js"), "export default function init() {}"),
        (format!("{NAME}_bg.wasm"), "\0asm wasm bytes"),
        (format!("{NAME}.css"), "body { color: black }"),
    ] {
        std::fs::write(pkg.join(&file), text).expect("write an asset");
        std::fs::write(pkg.join(format!("{file}.br")), format!("brotli of {text}"))
            .expect("write a brotli copy");
        std::fs::write(pkg.join(format!("{file}.gz")), format!("gzip of {text}"))
            .expect("write a gzip copy");
    }
    std::fs::write(pkg.join("bundle-name"), format!("{NAME}\n")).expect("write the name");
    std::fs::write(pkg.join("notes.txt"), "not hashed").expect("write a plain file");
    site
}

async fn get(app: &axum::Router, uri: &str, encoding: Option<&str>) -> axum::response::Response {
    let mut request = Request::builder().uri(uri);
    if let Some(encoding) = encoding {
        request = request.header(header::ACCEPT_ENCODING, encoding);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("router answers")
}

async fn text(response: axum::response::Response) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn header_of(response: &axum::response::Response, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn pages_link_the_hashed_bundle_which_is_served_precompressed_and_immutable() {
    let site = site();
    let test_db = support::sqlite().await;
    let settings = apiary_server::config::Settings {
        site_dir: site.clone(),
        ..support::settings()
    };
    let app = router(AppState::new(settings, test_db.db.clone()));

    let page = text(get(&app, "/", None).await).await;
    for link in [
        format!("/pkg/{NAME}.js"),
        format!("/pkg/{NAME}_bg.wasm"),
        format!("/pkg/{NAME}.css"),
    ] {
        assert!(page.contains(&link), "the page links {link}: {page}");
    }
    assert!(
        !page.contains("/pkg/apiary.css"),
        "no unhashed stylesheet: {page}"
    );

    for (file, served) in [
        (format!("{NAME}_bg.wasm"), "\0asm wasm bytes"),
        (format!("{NAME}.js"), "export default function init() {}"),
    ] {
        let uri = format!("/pkg/{file}");
        let brotli = get(&app, &uri, Some("gzip, deflate, br")).await;
        assert_eq!(brotli.status(), StatusCode::OK, "{uri}");
        assert_eq!(header_of(&brotli, header::CONTENT_ENCODING), "br", "{uri}");
        assert_eq!(
            header_of(&brotli, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable",
            "{uri}"
        );
        assert_eq!(text(brotli).await, format!("brotli of {served}"));

        let gzip = get(&app, &uri, Some("gzip")).await;
        assert_eq!(header_of(&gzip, header::CONTENT_ENCODING), "gzip", "{uri}");
        assert_eq!(text(gzip).await, format!("gzip of {served}"));

        let plain = get(&app, &uri, None).await;
        assert_eq!(header_of(&plain, header::CONTENT_ENCODING), "", "{uri}");
        assert_eq!(text(plain).await, served);
    }

    let plain = get(&app, "/pkg/notes.txt", None).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(
        header_of(&plain, header::CACHE_CONTROL),
        "public, max-age=300"
    );
    let missing = get(&app, &format!("/pkg/{NAME}.map"), None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        header_of(&missing, header::CACHE_CONTROL),
        "",
        "a 404 is not cached for a year"
    );
    std::fs::remove_dir_all(&site).ok();
}
