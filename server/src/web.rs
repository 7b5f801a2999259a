//! The browser client: the files of `assets/web/`, compiled into the
//! binary so that the server serves the page from wherever it runs.
//!
//! Every file is revalidated on each load (`no-cache` with an `ETag`), so
//! that a new server version is picked up at once while an unchanged file
//! costs a 304.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// One file of the page.
struct Asset {
    path: &'static str,
    body: &'static [u8],
    content_type: &'static str,
    etag: u64,
}

/// FNV-1a, evaluated at compile time for each file's `ETag`.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

macro_rules! asset {
    ($path:literal, $content_type:expr) => {{
        const BODY: &[u8] = include_bytes!(concat!("../../assets/web/", $path));
        Asset {
            path: $path,
            body: BODY,
            content_type: $content_type,
            etag: fnv1a(BODY),
        }
    }};
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/arena.js", JS),
    asset!("js/connection.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/lobby.js", JS),
    asset!("js/predict.js", JS),
    asset!("js/protocol.js", JS),
    asset!("js/render.js", JS),
    asset!("js/side.js", JS),
    asset!("js/snapshot.js", JS),
    asset!("js/trivia.js", JS),
];

/// The page may load only its own files and talk only to its own origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self'; \
    img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Serves a file of the page for any path no other route took; `/` is
/// `index.html`.
pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = match uri.path().trim_start_matches('/') {
        "" => "index.html",
        path => path,
    };
    let Some(asset) = ASSETS.iter().find(|asset| asset.path == path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let etag = format!("\"{:016x}\"", asset.etag);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        let mut response = StatusCode::OK.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, asset.body.len().into());
        response
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header value"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.path == "index.html" {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_the_page_imports_is_served() {
        // A module imported by another but missing here would fail in the
        // browser only; check the import lines against the table.
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).expect("scripts are UTF-8");
            for line in text.lines().filter(|l| l.contains(" from './")) {
                let name = line
                    .split("from './")
                    .nth(1)
                    .and_then(|r| r.split('\'').next());
                let name = name.expect("an import names a file");
                let path = format!("js/{name}");
                assert!(
                    ASSETS.iter().any(|a| a.path == path),
                    "{} imports {path}, which is not served",
                    asset.path
                );
            }
        }
    }
}
