//! Carries out one invocation and prints what the seed prints.
#![allow(clippy::print_stdout, reason = "this module is the command line's output")]

use std::path::PathBuf;
use std::process::ExitCode;

use crate::args::{Command, Invocation};
use crate::config::{self, Config, Paths};

/// The banner every invocation prints first, as the seed's does.
pub fn banner() -> String {
    format!("Ped Server Version {}", env!("CARGO_PKG_VERSION"))
}

/// What every command needs: the paths and the configuration with this run's overrides.
struct Context {
    paths: Paths,
    config_file: PathBuf,
    /// The file's own content.
    stored: Config,
    /// The file's content with the command line's settings applied.
    effective: Config,
}

fn context(inv: &Invocation) -> Result<Context, String> {
    let paths = match (&inv.config_file, Paths::current()) {
        (_, Ok(p)) => p,
        // An explicit -configfile (and, through it, -logfilename) needs no home directory.
        (Some(file), Err(_)) => Paths { config_file: file.clone(), log_file: file.with_extension("log") },
        (None, Err(e)) => return Err(e.to_string()),
    };
    let config_file = inv.config_file.clone().unwrap_or_else(|| paths.config_file.clone());
    let stored = config::load(&config_file).map_err(|e| e.to_string())?;
    let mut effective = stored.clone();
    inv.settings.apply(&mut effective);
    Ok(Context { paths, config_file, stored, effective })
}

/// Runs the invocation; errors are printed with what to do, and give exit status 1.
pub fn run(inv: Invocation) -> ExitCode {
    println!("{}", banner());
    let result = context(&inv).and_then(|ctx| dispatch(&inv, ctx));
    match result {
        Ok(code) => code,
        Err(message) => {
            println!("Error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(inv: &Invocation, ctx: Context) -> Result<ExitCode, String> {
    match &inv.command {
        Command::ConfigShow { json } => {
            println!("Ped Server launched in config mode.");
            println!("Configuration file: {}", ctx.config_file.display());
            println!("Log file: {}", ctx.effective.log_file_or(&ctx.paths).display());
            if *json {
                println!("{}", serde_json::to_string_pretty(&ctx.effective).map_err(|e| e.to_string())?);
            } else {
                print!("{}", ctx.effective.to_toml());
            }
            println!("Config command passed.");
            Ok(ExitCode::SUCCESS)
        }
        Command::ConfigSet => {
            println!("Ped Server launched in config mode.");
            let mut updated = ctx.stored.clone();
            inv.settings.apply(&mut updated);
            config::save(&ctx.config_file, &updated).map_err(|e| e.to_string())?;
            println!("Configuration written to {}", ctx.config_file.display());
            println!("Config command passed.");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("{other:?} is not available in this build")),
    }
}
