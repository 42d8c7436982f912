//! `metrics` and `[http]`: the http address (where `/metrics`, `/healthz`
//! and the read API are served) and how the read API authenticates, into
//! sinkd-http's `HttpConfig`. The address is given once, as the top-level
//! `metrics` or as `[http] address`; `"off"` turns the whole surface off.

use super::{parse_socket_addr, Checker};
use crate::model::ConfigError;
use crate::raw::RawConfig;
use sinkd_http::{HttpConfig, HttpTlsConfig, DEFAULT_ADDRESS, DEFAULT_PORT};
use std::path::PathBuf;
use toml::Spanned;

pub(super) fn check_http(
    checker: &Checker<'_>,
    raw: &RawConfig,
) -> Result<Option<HttpConfig>, ConfigError> {
    let table = raw.http.as_ref();
    let address_text =
        match (
            &raw.metrics,
            table.and_then(|http| http.get_ref().address.as_ref()),
        ) {
            (Some(_), Some(address)) => return Err(checker.invalid(
                address.span(),
                "[http] address: the address is already given by the top-level `metrics`; keep one",
            )),
            (Some(text), None) => Some(("metrics", text)),
            (None, Some(text)) => Some(("address", text)),
            (None, None) => None,
        };
    let address = match address_text {
        None => DEFAULT_ADDRESS,
        Some((_, text)) if matches!(text.get_ref().as_str(), "" | "off" | "false") => {
            if let Some(http) = table {
                let http = http.get_ref();
                if http.token_file.is_some() || http.cert.is_some() || http.client_ca.is_some() {
                    return Err(checker.invalid(
                        text.span(),
                        "the http address is off, so the other [http] settings have nothing to apply to",
                    ));
                }
            }
            return Ok(None);
        }
        Some((key, text)) => parse_socket_addr(text.get_ref(), DEFAULT_PORT)
            .map_err(|message| checker.invalid(text.span(), format!("{key}: {message}")))?,
    };
    let mut config = HttpConfig::open(address);
    let Some(http) = table else {
        return Ok(Some(config));
    };
    let http = http.get_ref();
    let path = |key: &str, value: &Spanned<String>| {
        if value.get_ref().is_empty() {
            Err(checker.invalid(value.span(), format!("[http] {key}: an empty path")))
        } else {
            Ok(PathBuf::from(value.get_ref()))
        }
    };
    config.token_file = http
        .token_file
        .as_ref()
        .map(|file| path("token_file", file))
        .transpose()?;
    config.tls = match (&http.cert, &http.key) {
        (Some(cert), Some(key)) => Some(HttpTlsConfig {
            cert: path("cert", cert)?,
            key: path("key", key)?,
            client_ca: http
                .client_ca
                .as_ref()
                .map(|ca| path("client_ca", ca))
                .transpose()?,
        }),
        (Some(cert), None) => {
            return Err(checker.invalid(cert.span(), "[http] cert needs `key` too"));
        }
        (None, Some(key)) => {
            return Err(checker.invalid(key.span(), "[http] key needs `cert` too"));
        }
        (None, None) => {
            if let Some(ca) = &http.client_ca {
                return Err(checker.invalid(
                    ca.span(),
                    "[http] client_ca needs TLS on the http address: give `cert` and `key`",
                ));
            }
            None
        }
    };
    Ok(Some(config))
}
