#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::CommandFactory;

fn main() -> ExitCode {
    ped_daemon::broken_pipe::exit_quietly();
    match pedserver::args::parse(std::env::args_os()) {
        Ok(invocation) => pedserver::cli::run(invocation),
        Err(e) => ped_daemon::args::exit_status(e, pedserver::args::Cli::command().render_usage()),
    }
}
