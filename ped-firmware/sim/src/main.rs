//! `ped-sim`: see the crate documentation and docs/firmware.md ("Simulator").

use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;

use clap::Parser;
use ped_sim::board::BoardDriver;
use ped_sim::command::Controller;
use ped_sim::config::{Cli, Front, Settings};
use ped_sim::driver::{self, Driver, Input, Outputs};
use ped_sim::endpoint::{self, Listener};
use ped_sim::tui;

fn main() -> ExitCode {
    match run(Settings::resolve(Cli::parse())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ped-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(settings: Result<Settings, String>) -> Result<(), String> {
    let settings = settings?;
    let outputs = Outputs::open(settings.json.as_deref(), settings.text.as_deref()).map_err(|e| e.to_string())?;
    let keys = settings.keys.as_ref().map(|(dir, port)| (dir.as_path(), port.as_str()));
    let (inputs, received) = mpsc::channel();
    // The core in this process, or a board's peripherals (docs/board.md).
    let (display, running) = match &settings.board {
        Some(board) => {
            let driver = BoardDriver::new(&settings.ped, board, keys, outputs, settings.unix_time, inputs.clone())?;
            (driver.display(), thread::Builder::new().name("driver".into()).spawn(move || driver.run(received)))
        }
        None => {
            let (config, flash) = driver::boot(settings.ped.clone(), settings.state.as_deref())?;
            let driver = Driver::new(config, flash, keys, outputs, settings.unix_time)?;
            (driver.display(), thread::Builder::new().name("driver".into()).spawn(move || driver.run(received)))
        }
    };
    let running = running.map_err(|e| e.to_string())?;
    let controller = Controller::new(inputs.clone(), std::sync::Arc::clone(&display));

    // The listeners live until the process ends; they are announced on stderr (with
    // the real port for tcp:…:0) so a rig knows where to connect.
    if let Some(usb) = &settings.usb {
        let listener = Listener::bind(usb).map_err(|e| format!("usb endpoint: {e}"))?;
        eprintln!("ped-sim: usb {}", listener.describe());
        endpoint::spawn_usb(listener, inputs.clone()).map_err(|e| e.to_string())?;
    }
    if let Some(control) = &settings.control {
        let listener = Listener::bind(control).map_err(|e| format!("control socket: {e}"))?;
        eprintln!("ped-sim: control {}", listener.describe());
        controller.clone().serve(listener).map_err(|e| e.to_string())?;
    }

    // Whether this thread ends the driver, or leaves that to a `quit` (control socket)
    // or to a signal.
    let (result, stop) = match &settings.front {
        Front::Tui => (tui::run(&controller, &display).map_err(|e| format!("terminal: {e}")), true),
        Front::Script(path) => match controller.run_script(path) {
            Ok(quitted) => (Ok(()), !quitted && settings.control.is_none()),
            Err(e) => (Err(e), true),
        },
        Front::Headless => (Ok(()), false),
    };
    if stop {
        // Ignored if the driver already stopped on a `quit`.
        let _ = inputs.send(Input::Quit);
    }
    drop(inputs);
    drop(controller);
    running.join().map_err(|_| "the driver thread panicked".to_owned())?;
    result
}
