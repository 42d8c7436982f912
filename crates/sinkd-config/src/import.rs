//! `sinkd import-device-config`: the device's CLI logging lines in, the
//! equivalent sinkd TOML out.
//!
//! Operators mirror a device's logging configuration on the server, so the
//! importer reads what they can copy from the device's terminal: the
//! sub-context form (`sink`, then `target …`, `priority …`, `format …`,
//! `end`), the one-liner (`sink target udp address X format rfc3164
//! priority console.notice;security.warning`), `template NAME priority
//! EXPR`, `no sink N`, `no template NAME` and `external-logging SIZE
//! COUNT`. Prompts such as `example:/config/logging/sink-1/#> ` are
//! skipped. Device-only settings (`console`, `secure-mode`, media names,
//! `udp dhcp`) become comments in the output saying what to do instead. The
//! result is validated with [`crate::Config::from_toml`] before it is
//! returned, so what the importer prints is a configuration sinkd accepts.

use crate::Config;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Why the device lines could not be imported, with the 1-based input line.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("the imported configuration does not validate: {0}")]
    Invalid(#[from] crate::ConfigError),
}

#[derive(Debug, Default, Clone)]
struct SinkDraft {
    index: usize,
    target: Option<String>,
    priority: Option<String>,
    format: Option<String>,
}

#[derive(Default)]
struct Importer {
    sinks: BTreeMap<usize, SinkDraft>,
    current: Option<usize>,
    templates: BTreeMap<String, String>,
    rotate: Option<(String, Option<String>)>,
    notes: Vec<String>,
}

const KEYWORDS: [&str; 3] = ["target", "priority", "format"];

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// Strips a CLI prompt (`host:/config/logging/#> `) from a pasted line.
fn strip_prompt(line: &str) -> &str {
    match line.rfind("#> ") {
        Some(idx) => &line[idx + 3..],
        None => line.strip_suffix("#>").map(|_| "").unwrap_or(line),
    }
}

impl Importer {
    fn fail(line: usize, message: impl Into<String>) -> ImportError {
        ImportError::Line {
            line,
            message: message.into(),
        }
    }

    fn next_free_index(&self) -> usize {
        (1..)
            .find(|index| !self.sinks.contains_key(index))
            .unwrap_or(1)
    }

    fn sink_mut(&mut self, line: usize) -> Result<&mut SinkDraft, ImportError> {
        let index = self.current.ok_or_else(|| {
            Importer::fail(line, "target/priority/format outside a `sink` context")
        })?;
        self.sinks
            .get_mut(&index)
            .ok_or_else(|| Importer::fail(line, "sink context was removed"))
    }

    /// Applies `target …`, `priority …` or `format …` words to the current sink.
    fn set(&mut self, line: usize, keyword: &str, value: &[&str]) -> Result<(), ImportError> {
        if value.is_empty() {
            return Err(Importer::fail(line, format!("`{keyword}` needs a value")));
        }
        let joined = value.join(" ");
        let sink = self.sink_mut(line)?;
        match keyword {
            "target" => sink.target = Some(joined),
            // `template NAME` keeps its space; an expression list pasted
            // with spaces after `;` is joined back together.
            "priority" if value[0] == "template" => sink.priority = Some(joined),
            "priority" => sink.priority = Some(value.concat()),
            _ => sink.format = Some(joined),
        }
        Ok(())
    }

    /// Reads `target … format … priority …` in any order.
    fn set_all(&mut self, line: usize, words: &[&str]) -> Result<(), ImportError> {
        let mut rest = words;
        while let Some((keyword, tail)) = rest.split_first() {
            if !KEYWORDS.contains(keyword) {
                return Err(Importer::fail(
                    line,
                    format!("unexpected {keyword:?}: expected target, priority or format"),
                ));
            }
            let end = tail
                .iter()
                .position(|word| KEYWORDS.contains(word))
                .unwrap_or(tail.len());
            self.set(line, keyword, &tail[..end])?;
            rest = &tail[end..];
        }
        Ok(())
    }

    fn line(&mut self, number: usize, text: &str) -> Result<(), ImportError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            [] | ["configure"] | ["logging"] | ["leave"] | ["exit"] => {}
            ["end"] => self.current = None,
            ["show", ..] | ["do", ..] => {}
            ["sink", rest @ ..] => {
                let (index, settings) = match rest.split_first() {
                    Some((first, tail)) if first.parse::<usize>().is_ok() => {
                        (first.parse::<usize>().unwrap_or(1), tail)
                    }
                    _ => (self.next_free_index(), rest),
                };
                self.sinks.entry(index).or_insert_with(|| SinkDraft {
                    index,
                    ..SinkDraft::default()
                });
                self.current = Some(index);
                self.set_all(number, settings)?;
                if !settings.is_empty() {
                    self.current = None;
                }
            }
            [keyword, value @ ..] if KEYWORDS.contains(keyword) => self.set(number, keyword, value)?,
            ["no", "sink"] => self.sinks.clear(),
            ["no", "sink", index] => {
                let index: usize = index
                    .parse()
                    .map_err(|_| Importer::fail(number, format!("invalid sink index {index:?}")))?;
                self.sinks.remove(&index);
            }
            ["no", "template"] => self.templates.clear(),
            ["no", "template", name] => {
                self.templates.remove(*name);
            }
            ["template", name, "priority", expression @ ..] if !expression.is_empty() => {
                self.templates.insert((*name).to_string(), expression.concat());
            }
            ["external-logging", size, count @ ..] if count.len() <= 1 => {
                self.rotate = Some(((*size).to_string(), count.first().map(|c| (*c).to_string())));
            }
            ["external-logging"] | ["no", "external-logging"] => {}
            ["secure-mode"] | ["no", "secure-mode"] => self.notes.push(
                "secure-mode is the device refusing remote messages; on sinkd restrict senders with `allow = [...]` in [[listen]]".to_string(),
            ),
            ["console"] | ["no", "console"] => self
                .notes
                .push("console logging is a device setting; sinkd logs to stderr".to_string()),
            ["external-logging-media", ..] | ["no", "external-logging-media", ..] => self
                .notes
                .push("external-logging-media names device media; sinkd stores under data_dir".to_string()),
            _ => return Err(Importer::fail(number, format!("not a logging command: {text:?}"))),
        }
        Ok(())
    }

    fn render(mut self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Imported by `sinkd import-device-config`; review before use."
        );
        let _ = writeln!(out, "data_dir = \"./sinkd-data\"\n");
        let _ = writeln!(
            out,
            "[[listen]]\ntransport = \"udp\"\naddress = \"0.0.0.0:514\"\n"
        );
        let _ = writeln!(
            out,
            "[[listen]]\ntransport = \"tcp\"\naddress = \"0.0.0.0:514\"\n"
        );
        if let Some((size, count)) = &self.rotate {
            let _ = writeln!(out, "[storage]\nrotate_size = {}", toml_string(size));
            if let Some(count) = count {
                let _ = writeln!(out, "rotate_count = {count}");
            }
            out.push('\n');
        }
        if !self.templates.is_empty() {
            out.push_str("[templates]\n");
            for (name, expression) in &self.templates {
                let _ = writeln!(out, "{} = {}", toml_string(name), toml_string(expression));
            }
            out.push('\n');
        }
        for sink in self.sinks.values() {
            let Some(target) = &sink.target else {
                self.notes.push(format!(
                    "sink {} has no target and was left out",
                    sink.index
                ));
                continue;
            };
            let words: Vec<&str> = target.split_whitespace().collect();
            let target = match words.as_slice() {
                [_, "dhcp"] => {
                    self.notes.push(format!(
                        "sink {}: `{target}` takes its server from DHCP on the device; write `udp address HOST` instead",
                        sink.index
                    ));
                    continue;
                }
                ["file", media, path] => {
                    self.notes.push(format!(
                        "sink {}: media {media:?} dropped; the file is stored under data_dir",
                        sink.index
                    ));
                    format!("file {path}")
                }
                _ => words.join(" "),
            };
            let _ = writeln!(
                out,
                "[[sink]]\nname = \"sink-{}\"\ntarget = {}",
                sink.index,
                toml_string(&target)
            );
            if let Some(priority) = &sink.priority {
                let _ = writeln!(out, "priority = {}", toml_string(priority));
            }
            let format = sink.format.as_deref().unwrap_or("rfc3164");
            let _ = writeln!(out, "format = {}\n", toml_string(format));
        }
        for note in &self.notes {
            let _ = writeln!(out, "# note: {note}");
        }
        out
    }
}

/// Translates device logging lines into sinkd TOML, validated.
pub fn import_device_config(text: &str) -> Result<String, ImportError> {
    let mut importer = Importer::default();
    for (index, raw_line) in text.lines().enumerate() {
        let line = strip_prompt(raw_line.trim_end_matches('\r')).trim();
        importer.line(index + 1, line)?;
    }
    let toml = importer.render();
    Config::from_toml(&toml)?;
    Ok(toml)
}

#[cfg(test)]
mod tests;
