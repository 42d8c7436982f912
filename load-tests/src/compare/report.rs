//! The comparison as Markdown: one table per scenario, one row per
//! server, with sinkd's ratio to each peer. This is the text that goes into
//! `docs/performance-history.md`.
//!
//! "msgs/s written" counts the lines a server wrote (the messages that
//! pass the filter, about half of the mix) per second of end-to-end time;
//! "msgs/s in" counts the messages it received in that time, which is what
//! its parser and filter handled. CPU is per million messages received.
//!
//! Ratios are oriented so that a number above 1 favours sinkd:
//! throughput is sinkd's rate divided by the peer's, CPU and memory are the
//! peer's cost divided by sinkd's. A number below 1 means sinkd was slower
//! or costlier there, and is printed as it is.

use crate::compare::servers::ServerKind;
use crate::compare::RunResult;

#[cfg(test)]
mod tests;

/// `1234567` as `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn ratio(numerator: f64, denominator: f64) -> String {
    if numerator <= 0.0 || denominator <= 0.0 {
        "n/a".to_string()
    } else {
        format!("{:.2}×", numerator / denominator)
    }
}

fn loss_cell(result: &RunResult) -> String {
    let mut cell = if result.loss == 0 {
        format!("0 of {}", thousands(result.expected))
    } else {
        format!(
            "{} of {} ({:.2}%)",
            thousands(result.loss),
            thousands(result.expected),
            result.loss as f64 * 100.0 / result.expected.max(1) as f64
        )
    };
    if result.extra > 0 {
        cell.push_str(&format!(", {} extra", thousands(result.extra)));
    }
    cell
}

fn row(result: &RunResult, sinkd: Option<&RunResult>) -> String {
    let name = result.server.name();
    if let Some(error) = &result.error {
        let first_line = error.lines().next().unwrap_or("");
        return format!("| {name} | failed: {first_line} | | | | | | | |\n");
    }
    let ratios = match sinkd.filter(|s| s.error.is_none()) {
        Some(sinkd) if result.server != ServerKind::Sinkd => format!(
            "{} | {} | {}",
            ratio(sinkd.msgs_per_second, result.msgs_per_second),
            ratio(
                result.cpu_seconds_per_million,
                sinkd.cpu_seconds_per_million
            ),
            ratio(result.peak_rss_kib as f64, sinkd.peak_rss_kib as f64),
        ),
        _ => "— | — | —".to_string(),
    };
    format!(
        "| {name} | {}{} | {} | {} | {:.2} | {:.1} | {} |\n",
        thousands(result.msgs_per_second.round() as u64),
        if result.settled { "" } else { " (unsettled)" },
        thousands((result.received as f64 / result.seconds.max(1e-9)).round() as u64),
        loss_cell(result),
        result.cpu_seconds_per_million,
        result.peak_rss_kib as f64 / 1024.0,
        ratios
    )
}

/// One Markdown table per scenario, in the order the scenarios ran.
pub fn markdown(results: &[RunResult]) -> String {
    let mut labels: Vec<String> = Vec::new();
    for result in results {
        let label = result.scenario.label();
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    let mut text = String::new();
    for label in labels {
        let rows: Vec<&RunResult> = results
            .iter()
            .filter(|r| r.scenario.label() == label)
            .collect();
        let sinkd = rows.iter().copied().find(|r| r.server == ServerKind::Sinkd);
        let sent = rows.iter().map(|r| r.sent).max().unwrap_or(0);
        text.push_str(&format!(
            "**{label}** ({} messages sent per server)\n\n",
            thousands(sent)
        ));
        text.push_str("| server | msgs/s written | msgs/s in | loss | CPU s / 1M msgs in | peak RSS MiB | sinkd speed ÷ peer | peer CPU ÷ sinkd | peer RSS ÷ sinkd |\n");
        text.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for result in &rows {
            text.push_str(&row(result, sinkd));
        }
        let udp_notes: Vec<String> = rows
            .iter()
            .filter_map(|r| {
                let load = r.load.as_ref()?;
                let drops = load.kernel_udp_rcvbuf_errors?;
                Some(format!(
                    "{}: kernel receive-buffer drops {}, sender refusals {}",
                    r.server.name(),
                    thousands(drops),
                    thousands(load.udp_eagain.unwrap_or(0) + load.udp_enobufs.unwrap_or(0))
                ))
            })
            .collect();
        if !udp_notes.is_empty() {
            text.push_str(&format!("\nUDP: {}.\n", udp_notes.join("; ")));
        }
        text.push('\n');
    }
    text
}
