//! `kill -9` of `pedclient -regen -force` and `-register -force` at any instant (issue 14
//! item 8): what PED-initiated mode reads afterwards is always a whole pair, the old or
//! the new: the key beside its own certificate, the registered certificate beside its pin.
//! Writing them as two files in a row mismatched 48 and 49 times in 200 kills.

mod common;

use std::process::{Command, Stdio};
use std::time::Instant;

use common::{PedClient, binary, text};
use ped_daemon::tls::{self, GeneratedIdentity};
use pedclient::config::{Config, TomlConfig};
use pedclient::pedinit;

const KILLS: u64 = 50;

#[test]
fn a_killed_regen_or_register_leaves_a_matching_pair() {
    let client = PedClient::new();
    assert!(client.raw(&["-regen", "-commonname", "appliance1"]).status.success());
    let servers: Vec<_> = ["laptop1", "laptop2"]
        .iter()
        .map(|cn| {
            let file = client.dir.path().join(format!("{cn}.pem"));
            let generated = GeneratedIdentity::new(cn).unwrap();
            std::fs::write(&file, &generated.cert_pem).unwrap();
            (file, tls::fingerprint(&generated.identity().unwrap().cert))
        })
        .collect();
    let o = client.raw(&["-register", "-certificate", servers[0].0.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    let config_file = client.config();
    let (cert_file, key_file) = pedinit::identity_files(&config_file, "appliance1");
    let check = |round: u64| {
        let config = Config::load(&config_file).unwrap();
        if let Err(e) = pedinit::acceptor(&config, &config_file) {
            panic!("round {round}: PED-initiated mode cannot start: {e}");
        }
        let pin = &config.pedserver.as_ref().unwrap().fingerprint;
        assert!(servers.iter().any(|(_, fp)| fp == pin), "round {round}: pinned {pin}");
    };
    check(0);
    // The check can see a mismatch: another key beside the certificate is refused.
    let stranger = GeneratedIdentity::new("appliance1").unwrap();
    let key = std::fs::read(&key_file).unwrap();
    std::fs::write(&key_file, stranger.key_pem.as_bytes()).unwrap();
    assert!(pedinit::acceptor(&Config::load(&config_file).unwrap(), &config_file).is_err());
    std::fs::write(&key_file, key).unwrap();

    let (link, log) = (client.hsm_link(), client.dir.path().join("pedclient.log"));
    let command = |round: u64| {
        let certificate = servers[round as usize % 2].0.to_str().unwrap();
        let what: &[&str] = if round.is_multiple_of(2) {
            &["-regen", "-force", "-commonname", "appliance1"]
        } else {
            &["-register", "-force", "-certificate", certificate]
        };
        let mut command = Command::new(binary("pedclient"));
        command
            .args(what)
            .args(["-configfile", config_file.to_str().unwrap(), "-logfilename", log.to_str().unwrap()])
            .args(["-hsmlink", link.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    // How long each command takes whole here, so that the kills spread over all of it.
    let took = |round: u64| {
        let start = Instant::now();
        assert!(command(round).status().unwrap().success());
        start.elapsed()
    };
    let whole = [took(2), took(1)];
    let mut finished = 0;
    for round in 1..=KILLS {
        let mut child = command(round).spawn().unwrap();
        // A different instant of each run: 0 %, 37 %, 74 %, 11 %... of the whole command.
        let fraction = (round * 37 % 100) as u32;
        std::thread::sleep(whole[round as usize % 2] * fraction / 100);
        child.kill().unwrap();
        finished += usize::from(child.wait().unwrap().success());
        check(round);
        assert!(cert_file.exists() && key_file.exists(), "round {round}");
    }
    eprintln!("{KILLS} kills over runs of {whole:?} (regen, register), {finished} commands finished first");
}
