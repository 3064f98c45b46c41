//! The drawer of emulated PED keys (an ikey-emu key directory) shared by every PED of
//! the rig: a key written at one PED is carried to another, as in the data centre.
//! Keys are made with the `ikey-emu` command and read back from their files
//! (docs/ikey-emu.md §3), as an inspector with the files in hand would.

use std::path::{Path, PathBuf};
use std::process::Command;

use ped_proto::pedkey::PedKeyPayload;

use crate::{binary, output_text, path_str};

/// Blank keys made on demand, with serials counting up from 1001.
#[derive(Debug)]
pub struct Keys {
    dir: PathBuf,
    next: u64,
}

impl Keys {
    /// The key directory `dir` (ikey-emu creates it on first use).
    pub fn open(dir: &Path) -> Keys {
        Keys { dir: dir.to_path_buf(), next: 1001 }
    }

    /// The directory, for ped-sim's `--keys`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `n` new blank keys (`ikey-emu create --serial S`); their serials as the PED's
    /// `insert` takes them.
    pub fn blank(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let serial = format!("{:010}", self.next);
                self.next += 1;
                let o = Command::new(binary("ikey-emu"))
                    .args(["--dir", path_str(&self.dir), "create", "--serial", &serial])
                    .output()
                    .expect("ikey-emu runs");
                assert!(o.status.success(), "ikey-emu create: {}", output_text(&o));
                serial
            })
            .collect()
    }

    /// The payload the PED wrote on key `serial`, raw; empty while it is blank.
    pub fn payload(&self, serial: &str) -> Vec<u8> {
        let file = std::fs::read(self.dir.join(format!("{serial}.ikey"))).expect("the key file");
        // §3: the label's length at 35, the payload's length after the label.
        let label = usize::from(file[35]);
        let at = 36 + label;
        let len = u32::from_be_bytes(file[at..at + 4].try_into().expect("four bytes"));
        file[at + 4..at + 4 + len as usize].to_vec()
    }

    /// What the PED wrote on key `serial`, decoded; `None` while it is blank.
    pub fn content(&self, serial: &str) -> Option<PedKeyPayload> {
        let payload = self.payload(serial);
        (!payload.is_empty()).then(|| PedKeyPayload::decode(&payload).expect("a PED key payload"))
    }
}
