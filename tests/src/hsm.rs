//! `hsm-emu serve` as a process and its lunacm-style CLI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::JoinHandle;

use ped_testkit::CliResult;

use crate::{Process, binary, path_str, wait_until};

/// A running `hsm-emu serve` with its state directory and control socket.
#[derive(Debug)]
pub struct HsmEmu {
    _process: Process,
    control: PathBuf,
    /// Set by [`HsmEmu::echo`]: what runs before each echoed line.
    echo: Option<fn()>,
    /// The state directory (`hsm.json`, `root.der`, `identity.json`).
    pub state: PathBuf,
}

impl HsmEmu {
    /// Starts an HSM in `dir`, with the Local PED-USB at `local_ped` and pedclient's HSM
    /// link at `pedclient`; `key_timeout` seconds for each PED-key action.
    pub fn start(dir: &Path, local_ped: &Path, pedclient: &Path, key_timeout: u32) -> HsmEmu {
        Self::spawn(dir, local_ped, pedclient, key_timeout, &[])
    }

    /// [`HsmEmu::start`] with more `hsm-emu serve` options, e.g. `--firmware 7.4.2`.
    pub fn start_with(dir: &Path, local_ped: &Path, pedclient: &Path, key_timeout: u32, extra: &[&str]) -> HsmEmu {
        Self::spawn(dir, local_ped, pedclient, key_timeout, extra)
    }

    /// Starts another HSM, serial `serial`, made in the factory of `sibling` (the same
    /// root, so the rig's PEDs trust it too), in `dir`, with the Local PED-USB at
    /// `local_ped` and pedclient's HSM link at `pedclient`.
    pub fn start_sibling(dir: &Path, serial: &str, sibling: &HsmEmu, local_ped: &Path, pedclient: &Path) -> HsmEmu {
        let extra = ["--serial", serial, "--manufacturer", path_str(&sibling.state)];
        Self::spawn(dir, local_ped, pedclient, 60, &extra)
    }

    fn spawn(dir: &Path, local_ped: &Path, pedclient: &Path, key_timeout: u32, extra: &[&str]) -> HsmEmu {
        let (state, control) = (dir.join("hsm"), dir.join("hsm.sock"));
        let mut args = [
            "serve",
            "--state",
            path_str(&state),
            "--control",
            &format!("socket:{}", control.display()),
            "--local-ped",
            &format!("socket:{}", local_ped.display()),
            "--pedclient",
            &format!("socket:{}", pedclient.display()),
            "--key-timeout",
            &key_timeout.to_string(),
            "--link-timeout",
            "10",
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        let process = Process::spawn(&binary("hsm-emu"), &args);
        wait_until("hsm-emu's control socket", || control.exists() && state.join("root.der").exists());
        HsmEmu { _process: process, control, state, echo: None }
    }

    /// The factory root every PED must trust.
    pub fn root(&self) -> PathBuf {
        self.state.join("root.der")
    }

    /// From now on, prints each command as it starts and its output as it ends, for a
    /// person watching the rig (`ped-rig`); `before` runs before each of these lines:
    /// ped-rig prints there the PED screens that came before it, so that a command's
    /// screens stand between its line and its result.
    pub fn echo(&mut self, before: fn()) {
        self.echo = Some(before);
    }

    /// Starts a command in the background: a PED command returns only once the key
    /// holders have done their part.
    #[allow(clippy::print_stdout, reason = "the echo is for a person watching ped-rig's output")]
    pub fn start_cli(&self, words: &[&str]) -> JoinHandle<CliResult> {
        let mut command = Command::new(binary("hsm-emu"));
        command.arg("--control").arg(format!("socket:{}", self.control.display())).args(words);
        let echo = self.echo.map(|before| (words.join(" "), before));
        if let Some((line, before)) = &echo {
            before();
            println!("\nlunacm:> {line}");
        }
        std::thread::spawn(move || {
            let o = command.output().expect("the hsm-emu CLI runs");
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            if let Some((line, before)) = echo {
                before();
                let out: String = text.lines().map(|l| format!("  {l}\n")).collect();
                println!("lunacm:> {line}  [done]\n{}", out.trim_end());
            }
            CliResult { code: o.status.code(), text }
        })
    }

    /// Runs a command that needs nobody at the PED.
    pub fn cli(&self, words: &[&str]) -> CliResult {
        self.start_cli(words).join().expect("the CLI thread")
    }

    /// `hsm.json` as it is on disk now (empty before the first write).
    pub fn state_text(&self) -> String {
        std::fs::read_to_string(self.state.join("hsm.json")).unwrap_or_default()
    }

    /// `hsm.json`, parsed.
    pub fn state_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.state_text()).unwrap_or(serde_json::Value::Null)
    }
}
