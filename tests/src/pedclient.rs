//! The pedclient daemon with its own configuration, log, admin port and HSM link.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{binary, free_port, output_text, path_str};

/// A pedclient whose files live in `dir`; stopped when dropped if it was started.
#[derive(Debug)]
pub struct PedClient {
    dir: PathBuf,
    admin: u16,
    started: bool,
}

impl PedClient {
    /// A pedclient (not yet running) keeping its files in `dir`.
    pub fn new(dir: &Path) -> PedClient {
        std::fs::create_dir_all(dir).expect("pedclient's directory");
        PedClient { dir: dir.to_path_buf(), admin: free_port(), started: false }
    }

    /// The HSM link, where `hsm-emu serve --pedclient socket:PATH` connects.
    pub fn hsm_link(&self) -> PathBuf {
        self.dir.join("hsmlink.sock")
    }

    /// `pedclient -mode start` with `extra` settings (e.g. `-idletimeout 2`).
    pub fn start(&mut self, extra: &[&str]) {
        let o = self.run("start", extra);
        assert!(o.status.success(), "pedclient start failed:\n{}", output_text(&o));
        self.started = true;
    }

    /// `pedclient -mode MODE` on this client's files and ports.
    pub fn run(&self, mode: &str, extra: &[&str]) -> Output {
        let (config, log, link) = (self.dir.join("pedclient.toml"), self.dir.join("pedclient.log"), self.hsm_link());
        let admin = self.admin.to_string();
        let mut args = vec!["-mode", mode, "-configfile", path_str(&config), "-admin", &admin];
        args.extend(["-logfilename", path_str(&log), "-hsmlink", path_str(&link)]);
        args.extend(extra);
        Command::new(binary("pedclient")).args(&args).output().expect("pedclient runs")
    }

    /// `pedclient ARGS` on this client's configuration file, for the commands that take no
    /// `-mode` (`-regen`, `-register`); certificates go beside that file.
    pub fn raw(&self, args: &[&str]) -> Output {
        let config = self.dir.join("pedclient.toml");
        Command::new(binary("pedclient"))
            .args(args)
            .args(["-configfile", path_str(&config)])
            .output()
            .expect("pedclient runs")
    }

    /// Stops the running daemon and starts it again with `extra` settings.
    pub fn restart(&mut self, extra: &[&str]) {
        let o = self.run("stop", &[]);
        assert!(o.status.success(), "pedclient stop failed:\n{}", output_text(&o));
        self.started = false;
        self.start(extra);
    }

    /// `pedclient -mode show -json`.
    pub fn show(&self) -> serde_json::Value {
        let o = self.run("show", &["-json"]);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("show -json: {e}\n{}", output_text(&o)))
    }

    /// The log file, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pedclient.log")).unwrap_or_default()
    }
}

impl Drop for PedClient {
    fn drop(&mut self) {
        if self.started {
            let _ = self.run("stop", &[]);
        }
    }
}
