//! The web console: a few static files (HTML, CSS, ES modules) embedded in
//! the binary and served on the http address — `/` (the devices page),
//! `/devices/{device}` (one device) and the assets under `/console/`. The
//! pages draw themselves from the read API; nothing is fetched from
//! anywhere else, which the Content-Security-Policy sent with every page
//! also enforces (`default-src 'self'`, no inline script or style).
//!
//! Every answer carries an ETag (a hash of the content) and `Cache-Control:
//! no-cache`: a browser asks again each time and gets `304 Not Modified`
//! while the binary is the same. The files hold no logs, so they are served
//! to every client the access rule does not shut out (a page then asks for
//! the bearer token when the API wants one).

use crate::body::{self, ResponseBody};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use std::sync::OnceLock;

/// Where the assets are served.
pub(crate) const PREFIX: &str = "/console/";

/// The policy sent with every console answer.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../console/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: [Asset; 10] = [
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("chart.js", JS),
    asset!("device.js", JS),
    asset!("devices.js", JS),
    asset!("format.js", JS),
    asset!("severity.js", JS),
];

/// Whether `path` is the console's.
pub(crate) fn serves(path: &str) -> bool {
    path == "/" || path.starts_with("/devices/") || path.starts_with(PREFIX)
}

/// The answer for a console `path`.
pub(crate) fn respond(path: &str, request_headers: &HeaderMap) -> Response<ResponseBody> {
    // The pages are one document that reads its address.
    let name = path.strip_prefix(PREFIX).unwrap_or("index.html");
    let Some((index, asset)) = ASSETS
        .iter()
        .enumerate()
        .find(|(_, asset)| asset.name == name)
    else {
        let mut response = Response::new(body::full("not found\n"));
        *response.status_mut() = StatusCode::NOT_FOUND;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return response;
    };
    let etag = &etags()[index];
    let fresh = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        let mut response = Response::new(body::full(""));
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(body::full(asset.bytes));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Each asset's ETag: its FNV-1a 64-bit hash, quoted.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| format!("\"{:016x}\"", fnv1a(asset.bytes)))
            .collect()
    })
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn get(path: &str, if_none_match: Option<&str>) -> Response<ResponseBody> {
        let mut headers = HeaderMap::new();
        if let Some(tag) = if_none_match {
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(tag).unwrap());
        }
        respond(path, &headers)
    }

    fn body_of(response: Response<ResponseBody>) -> Vec<u8> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(response.into_body().collect())
            .unwrap()
            .to_bytes()
            .to_vec()
    }

    #[test]
    fn pages_and_assets_have_their_types_policy_and_etag() {
        for (path, kind) in [
            ("/", "text/html; charset=utf-8"),
            ("/devices/sw1", "text/html; charset=utf-8"),
            ("/console/app.js", JS),
            ("/console/style.css", "text/css; charset=utf-8"),
        ] {
            assert!(serves(path), "{path}");
            let response = get(path, None);
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let headers = response.headers();
            assert_eq!(headers[header::CONTENT_TYPE], kind, "{path}");
            assert!(headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .starts_with("default-src 'self';"));
            assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert!(headers[header::ETAG].to_str().unwrap().starts_with('"'));
            assert!(!body_of(response).is_empty());
        }
        assert!(!serves("/metrics"));
        assert!(!serves("/api/v1/devices"));
        assert_eq!(
            get("/console/nothing.js", None).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn a_known_etag_gets_not_modified() {
        let tag = get("/console/app.js", None).headers()[header::ETAG]
            .to_str()
            .unwrap()
            .to_owned();
        let again = get("/console/app.js", Some(&format!("\"x\", {tag}")));
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], tag.as_str());
        assert!(body_of(again).is_empty());
        assert_eq!(
            get("/console/app.js", Some("\"other\"")).status(),
            StatusCode::OK
        );
        // Each file has its own tag.
        assert_ne!(
            get("/console/api.js", None).headers()[header::ETAG],
            tag.as_str()
        );
    }

    #[test]
    fn the_html_loads_no_inline_script_and_nothing_from_elsewhere() {
        let html = String::from_utf8(body_of(get("/", None))).unwrap();
        assert!(html.contains("<script type=\"module\" src=\"/console/app.js\"></script>"));
        assert!(!html.contains("<script>"));
        assert!(!html.contains(" style="));
        for asset in &ASSETS {
            // The SVG namespace is a name, not an address fetched.
            let text =
                String::from_utf8_lossy(asset.bytes).replace("http://www.w3.org/2000/svg", "");
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{}",
                asset.name
            );
        }
    }
}
