//! `sinkd priority 'EXPR'`: compiles a device priority expression and prints
//! the resulting facility/severity table as JSON (docs/specs/cli.md).
//!
//! `--template NAME=EXPR` defines templates the expression may refer to with
//! `template NAME`, on top of the built-in defaults. A bad expression or
//! template exits with status 2 and a message naming the culprit.

use sinkd_route::Templates;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub(crate) struct PriorityArgs {
    /// Priority expression, e.g. 'auth.*;*.notice' or 'template NAME'.
    expression: String,
    /// Define a template: NAME=EXPR (repeatable).
    #[arg(long = "template", value_name = "NAME=EXPR")]
    templates: Vec<String>,
}

pub(crate) fn run(args: &PriorityArgs) -> anyhow::Result<ExitCode> {
    let mut templates = Templates::with_defaults();
    for definition in &args.templates {
        let Some((name, expression)) = definition.split_once('=') else {
            eprintln!("sinkd: --template {definition:?}: expected NAME=EXPR");
            return Ok(ExitCode::from(2));
        };
        if let Err(error) = templates.define(name.trim(), expression) {
            eprintln!("sinkd: template {:?}: {error}", name.trim());
            return Ok(ExitCode::from(2));
        }
    }
    match sinkd_route::compile(&args.expression, &templates) {
        Ok(table) => {
            println!("{}", sinkd_route::table_json(&table));
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("sinkd: priority {:?}: {error}", args.expression);
            Ok(ExitCode::from(2))
        }
    }
}
