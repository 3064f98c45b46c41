#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

fn main() -> ExitCode {
    match pedclient::args::parse(std::env::args_os()) {
        Ok(invocation) => pedclient::cli::run(invocation),
        // --help and --version are "errors" that print to stdout and succeed.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            // clap omits the usage line for bad values; every mistake here shows it.
            let rendered = e.render().to_string();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{rendered}");
            if !rendered.contains("Usage:") {
                let _ = writeln!(err, "\n{}", pedclient::args::Cli::command().render_usage());
            }
            ExitCode::from(2)
        }
    }
}
