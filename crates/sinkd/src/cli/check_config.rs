//! `sinkd check-config FILE`: validates a configuration without starting
//! (the TLS files of listeners and relays must be readable too), and
//! on success shows the listeners and the sinks the way the device's
//! `show sink` does (index, target, priority, format).

use sinkd_config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub(crate) struct CheckConfigArgs {
    /// The configuration file to check.
    file: PathBuf,
}

pub(crate) fn run(args: &CheckConfigArgs) -> anyhow::Result<ExitCode> {
    let config = match Config::from_file(&args.file) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{}: {error}", args.file.display());
            return Ok(ExitCode::from(2));
        }
    };
    // TLS files are read only when a listener starts or a relay connects;
    // a check that passed must not leave them to that moment.
    if let Err(error) = config.check_files() {
        eprintln!("{}: {error}", args.file.display());
        return Ok(ExitCode::from(2));
    }
    println!("{}: OK", args.file.display());
    println!("data_dir: {}", config.data_dir().display());
    match &config.http {
        Some(http) => {
            let scheme = if http.tls.is_some() { "https" } else { "http" };
            let access = match (
                &http.token_file,
                http.tls.as_ref().and_then(|tls| tls.client_ca.as_ref()),
            ) {
                (None, None) => String::from("read API: loopback clients only"),
                (Some(token), None) => format!("read API: bearer token from {}", token.display()),
                (None, Some(ca)) => format!("read API: client certificates from {}", ca.display()),
                (Some(token), Some(ca)) => format!(
                    "read API: bearer token from {} or client certificates from {}",
                    token.display(),
                    ca.display()
                ),
            };
            println!("metrics:  {scheme}://{}/metrics ({access})", http.address);
        }
        None => println!("metrics:  off"),
    }
    for listener in &config.listeners {
        let allow = if listener.allow().is_empty() {
            String::from("any source")
        } else {
            listener
                .allow()
                .nets
                .iter()
                .map(|net| net.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "listen:   {}/{} ({allow})",
            listener.address(),
            listener.transport_name()
        );
    }
    println!("{:<5}{:<32}{:<35}FORMAT", "IDX", "TARGET", "PRIORITY");
    for (index, sink) in config.sinks.iter().enumerate() {
        println!(
            "{:<5}{:<32}{:<35}{}",
            index + 1,
            sink.target_text,
            sink.priority_text,
            sink.format.name()
        );
    }
    Ok(ExitCode::SUCCESS)
}
