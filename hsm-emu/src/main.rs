//! `hsm-emu`: `hsm-emu serve …` runs the emulated HSM; `hsm-emu --control socket:PATH
//! <lunacm command>` runs one command against it.

use std::process::ExitCode;

fn main() -> ExitCode {
    hsm_emu::cli::main(std::env::args().skip(1).collect())
}
