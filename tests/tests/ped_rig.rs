//! The main job as a user runs it: the `ped-rig` binary as a process, its exit code and
//! the lines that show the ceremony happened; `--interactive` followed by a person, and
//! interrupted.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};

use ped_testkit::KeyHolder;
use tests::Process;
use tests::sim::{PedSim, SimHolder};

#[test]
fn ped_rig_runs_the_ceremony_and_exits_zero() {
    // `--no-build`: this cargo invocation has built the binaries and may hold the build lock.
    let o = Command::new(env!("CARGO_BIN_EXE_ped-rig")).arg("--no-build").output().expect("ped-rig runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "ped-rig failed:\n{out}\n{}", String::from_utf8_lossy(&o.stderr));
    for line in [
        "lunacm:> ped vector init",
        "lunacm:> ped connect -ip 127.0.0.1 -port",
        "lunacm:> hsm init -label rig",
        "lunacm:> role login -name so",
        "lunacm:> ped disconnect",
        "┌─ local PED ─",
        "┌─ remote PED ─",
        "│ SETTING RPV...",
        "│ COMPUTE SESSION KEY.",
        "│ SO LOGIN...",
        "=== Summary ===",
        "orange  RPV     1 of 1  PIN",
        "blue    HSM SO  2 of 3  PIN",
        "red     domain  2 of 3  PIN",
        "the rig is torn down.",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }
    // Each command's PED screens stand between its line and its result, however fast the
    // scripted key holders are.
    for (command, screen) in [("ped vector init", "│ SETTING RPV..."), ("role login -name so", "│ SO LOGIN...")] {
        let start = out.find(&format!("lunacm:> {command}\n")).expect("the command line");
        let done = out.find(&format!("lunacm:> {command}  [done]")).expect("its result");
        assert!(out[start..done].contains(screen), "{screen:?} not within {command:?}:\n{out}");
    }
    assert_eq!(out.matches("Command Result : No Error").count(), 5, "{out}");
    assert!(!out.contains("Command Result : 0x"), "{out}");
}

#[test]
fn ctrl_c_while_waiting_for_the_person_tears_the_rig_down_even_with_stderr_gone() {
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_ped-rig"))
            .args(["--no-build", "--interactive"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ped-rig runs"),
    );
    let child = &mut child.0;
    // As with `ped-rig | tee log` when the Ctrl-C also ends tee: nothing reads stderr.
    drop(child.stderr.take());
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut printed = String::new();
    let mut rig_dir = None;
    while !printed.contains("ped-rig: waiting up to") {
        let mut line = String::new();
        assert_ne!(out.read_line(&mut line).expect("stdout"), 0, "ped-rig ended early:\n{printed}");
        // The ped-sim command line for the person names the rig's directory.
        if let Some(usb) = line.split_whitespace().skip_while(|w| *w != "--usb").nth(1) {
            let sock = Path::new(usb.trim_start_matches("socket:"));
            rig_dir = sock.parent().map(Path::to_path_buf);
        }
        printed.push_str(&line);
    }
    let rig_dir = rig_dir.unwrap_or_else(|| panic!("no ped-sim command line in:\n{printed}"));
    assert!(rig_dir.join("pedclient").exists(), "{}", rig_dir.display());

    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(sent.success());
    let mut status = None;
    tests::wait_until("ped-rig to exit after Ctrl-C", || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    assert_eq!(status.and_then(|s| s.code()), Some(130));
    // Dropping the rig stopped pedclient and pedserver and removed the directory.
    assert!(!rig_dir.exists(), "{} is left behind", rig_dir.display());
}

/// ped-rig, killed when the test ends however it ends: a failed teardown must not keep
/// it waiting ten minutes for a person.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ped-rig --interactive` followed as a person would, to the letter: the printed ped-sim
/// command line (headless here, a control socket in place of the terminal UI's keypad),
/// the printed `ikey-emu` commands, and the answers, M, N and PINs the instructions give.
#[test]
fn interactive_instructions_followed_as_printed_complete_the_ceremony() {
    let mut rig = Killed(
        Command::new(env!("CARGO_BIN_EXE_ped-rig"))
            .args(["--no-build", "--interactive"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("ped-rig runs"),
    );
    let mut out = Printed::new(rig.0.stdout.take().expect("stdout"));

    let command: Vec<String> = out.line_with("--serial REMOTE").split_whitespace().map(String::from).collect();
    let usb = command.iter().skip_while(|w| *w != "--usb").nth(1).expect("--usb");
    let rig_dir = Path::new(usb.trim_start_matches("socket:")).parent().expect("the rig's directory").to_path_buf();
    // The person's PED, with the control socket that PedSim::by_hand names.
    let control = format!("socket:{}", rig_dir.join("REMOTE-ctl.sock").display());
    let mut args: Vec<String> = command[1..].to_vec();
    args.extend(["--headless".to_owned(), "--control".to_owned(), control]);
    let _ped = Process::spawn(Path::new(&command[0]), &args);
    let sim = PedSim::by_hand(&rig_dir, "REMOTE", &rig_dir.join("hsm/root.der"), &rig_dir.join("keys"));
    tests::wait_until("the person's ped-sim", || rig_dir.join("REMOTE-ctl.sock").exists());
    let mut person = sim.holder();

    out.line_with("At the remote PED (keys");
    out.line_with("COMPUTE SESSION KEY.");
    let orange = KeyStep::parse(&out.next());
    let orange_out = out.next();
    let mut sets = Vec::new();
    for colour in ["BLUE", "RED"] {
        let shape = out.line_with(&format!("{colour}: reuse an existing keyset? NO"));
        let (m, n) = (number_after(&shape, "M value? "), number_after(&shape, "N value? "));
        let mut keys = Vec::new();
        loop {
            let line = out.next();
            if line.starts_with(&format!("{colour}: Are you duplicating this keyset? NO")) {
                break;
            }
            keys.push((KeyStep::parse(&line), out.next()));
        }
        assert_eq!(keys.len(), usize::from(n), "{}", out.printed);
        sets.push((colour, m, n, keys));
    }

    person.wait("COMPUTE SESSION KEY.", 60);
    orange.insert(&mut person);
    person.press("enter");
    person.type_digits(&orange.pin);
    person.press("enter");
    remove(&mut person, &orange_out);
    for (colour, m, n, keys) in sets {
        person.shape(m, n);
        person.wait(&format!("({colour})"), 60);
        for (key, take_out) in keys {
            key.insert(&mut person);
            person.press("enter");
            person.press("yes");
            for _ in 0..2 {
                person.type_digits(&key.pin);
                person.press("enter");
            }
            remove(&mut person, &take_out);
        }
        person.press("no");
    }
    out.line_with("lunacm:> hsm init -label rig  [done]");

    out.line_with("At the remote PED, when it shows SO LOGIN...");
    let mut login: Vec<(KeyStep, Option<String>)> = Vec::new();
    loop {
        let line = out.next();
        if line.contains(" insert ") {
            login.push((KeyStep::parse(&line), None));
        } else if line.contains(" remove ") {
            login.last_mut().expect("a key before its removal").1 = Some(line);
        } else {
            break;
        }
    }
    assert_eq!(login.len(), 2, "{}", out.printed);
    assert!(login[1].1.is_none(), "the last key is not to be removed: the rig ends with the login");
    person.wait("SO LOGIN...", 60);
    for (key, take_out) in &login {
        key.insert(&mut person);
        person.press("enter");
        person.type_digits(&key.pin);
        person.press("enter");
        if let Some(take_out) = take_out {
            remove(&mut person, take_out);
        }
    }

    let rest = out.rest();
    let status = rig.0.wait().expect("ped-rig ends");
    assert!(status.success(), "ped-rig failed:\n{rest}");
    for line in [
        "lunacm:> role login -name so  [done]",
        "blue    HSM SO  2 of 3  PIN",
        "red     domain  2 of 3  PIN",
        "ped-rig: the remote PED's host goes with the rig: quit ped-sim (Esc) in its terminal.",
    ] {
        assert!(rest.contains(line), "no {line:?} in:\n{rest}");
    }
    assert_eq!(out.printed.matches("Command Result : No Error").count(), 5, "{}", out.printed);
}

/// ped-rig's stdout, line by line, read on a thread so that the screens it prints while
/// the test works the PED never fill the pipe.
struct Printed {
    lines: Receiver<String>,
    /// Everything read so far, for failure messages.
    printed: String,
}

impl Printed {
    fn new(stdout: ChildStdout) -> Printed {
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Printed { lines, printed: String::new() }
    }

    /// The next line; each PED-key step of the rig is answered within PATIENCE.
    fn next(&mut self) -> String {
        let line = self
            .lines
            .recv_timeout(tests::PATIENCE)
            .unwrap_or_else(|e| panic!("no next line ({e}) after:\n{}", self.printed));
        self.printed.push_str(&line);
        self.printed.push('\n');
        line
    }

    /// The next line containing `text`.
    fn line_with(&mut self, text: &str) -> String {
        loop {
            let line = self.next();
            if line.contains(text) {
                return line;
            }
        }
    }

    /// The lines up to ped-rig's end.
    fn rest(&mut self) -> String {
        let start = self.printed.len();
        while let Ok(line) = self.lines.recv_timeout(tests::PATIENCE) {
            self.printed.push_str(&line);
            self.printed.push('\n');
        }
        self.printed[start..].to_owned()
    }
}

/// One printed `ikey-emu insert SERIAL …    # then [new] PIN DIGITS …` line.
struct KeyStep {
    command: Vec<String>,
    serial: String,
    pin: String,
}

impl KeyStep {
    fn parse(line: &str) -> KeyStep {
        let (command, comment) = line.split_once('#').unwrap_or_else(|| panic!("no `# then …` in {line:?}"));
        let command: Vec<String> = command.split_whitespace().map(String::from).collect();
        let serial = command.iter().skip_while(|w| *w != "insert").nth(1).unwrap_or_else(|| panic!("{line:?}")).clone();
        let pin = comment.split_whitespace().skip_while(|w| *w != "PIN").nth(1).unwrap_or_else(|| panic!("{line:?}"));
        KeyStep { command, serial, pin: pin.to_owned() }
    }

    /// Runs the printed command, then waits until the PED has seen the key, as a person
    /// looks before pressing Enter.
    fn insert(&self, person: &mut SimHolder) {
        run_printed(&self.command);
        let serial = self.serial.trim_start_matches('0');
        tests::wait_until("the PED to see the key", || {
            person.run("status")["key"].as_str().is_some_and(|k| k.trim_start_matches('0') == serial)
        });
    }
}

/// Runs a printed `ikey-emu remove …` line and waits until the PED has seen the port empty.
fn remove(person: &mut SimHolder, line: &str) {
    let command: Vec<String> = line.split_whitespace().map(String::from).collect();
    assert!(command.iter().any(|w| w == "remove"), "{line:?}");
    run_printed(&command);
    tests::wait_until("the PED to see the port empty", || person.run("status")["key"].is_null());
}

fn run_printed(command: &[String]) {
    let o = Command::new(&command[0]).args(&command[1..]).output().expect("the printed command runs");
    assert!(o.status.success(), "{command:?}: {}", tests::output_text(&o));
}

/// The number after `label` in an instruction line ("M value? 2 Enter").
fn number_after(line: &str, label: &str) -> u8 {
    let after = line.split_once(label).unwrap_or_else(|| panic!("no {label:?} in {line:?}")).1;
    after.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line:?}"))
}
