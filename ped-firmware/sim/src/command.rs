//! The script language, shared by script files and the control socket: one command a
//! line, or the same command as a JSON object. docs/firmware.md ("Simulator") lists
//! them.
//!
//! ```text
//! press 1 | press enter | press clear | press < | press > | press yes | press no
//! type 1234                  # digits, pressed in order
//! clear-held                 # Clear held for five seconds
//! insert 0000001001          # a key by serial or ikey-emu label (pulls out any other)
//! remove
//! wait-screen "Keys read: 01 of 03" 30    # quoted text, optional timeout in seconds
//! wait-screen Enter PED PIN:              # unquoted: the rest of the line, 10 s
//! screen | status | sleep 250 | quit
//! {"cmd": "wait-screen", "arg": "Token found", "timeout": 5}
//! ```

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::Duration;

use ped_firmware::io::Button;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::display::Display;
use crate::driver::{Action, Input};
use crate::endpoint::Listener;

/// How long `wait-screen` waits unless told.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// One command.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// A key holder's action.
    Act(Action),
    /// Wait until a screen shows this text.
    WaitScreen {
        /// Text one line of the screen must contain.
        text: String,
        /// How long to wait.
        timeout: Duration,
    },
    /// Print the screen.
    Screen,
    /// Print the mode, the host link and the key in the port.
    Status,
    /// Do nothing for a while.
    Sleep(Duration),
    /// Stop the simulator.
    Quit,
}

/// A command line as JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonCommand {
    cmd: String,
    arg: Option<String>,
    timeout: Option<f64>,
}

/// Parses one line; `None` for a blank line or a `#` comment.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    if line.starts_with('{') {
        let json: JsonCommand = serde_json::from_str(line).map_err(|e| format!("bad JSON command: {e}"))?;
        let timeout = json.timeout.map(seconds).transpose()?;
        return build(&json.cmd, json.arg.as_deref().unwrap_or(""), timeout, true).map(Some);
    }
    let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    if verb != "wait-screen" {
        return build(verb, rest, None, false).map(Some);
    }
    // Quoted text may be followed by a timeout; unquoted text is the whole rest, so a
    // screen text ending in a number ("Keys read: 01 of 03") needs no quoting tricks.
    match rest.strip_prefix('"').and_then(|r| r.split_once('"')) {
        Some((text, after)) => {
            let timeout = match after.trim() {
                "" => None,
                t => Some(seconds(t.parse().map_err(|_| format!("`{t}` is not a timeout in seconds"))?)?),
            };
            build(verb, text, timeout, true).map(Some)
        }
        None => build(verb, rest, None, false).map(Some),
    }
}

fn seconds(value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("`{value}` is not a timeout in seconds"))
}

fn build(verb: &str, arg: &str, timeout: Option<Duration>, quoted: bool) -> Result<Command, String> {
    let none = |command: Command| if arg.is_empty() { Ok(command) } else { Err(format!("`{verb}` takes no argument")) };
    let needs = |what: &str| if arg.is_empty() { Err(format!("`{verb}` needs {what}")) } else { Ok(arg.to_owned()) };
    Ok(match verb {
        "press" => Command::Act(Action::Press(vec![button(arg)?])),
        "type" => {
            let digits = needs("digits")?;
            let buttons = digits.bytes().map(|b| button(&char::from(b).to_string())).collect::<Result<Vec<_>, _>>()?;
            if buttons.iter().any(|b| !matches!(b, Button::Digit(_))) {
                return Err(format!("`type` takes digits, not `{digits}`"));
            }
            Command::Act(Action::Press(buttons))
        }
        "clear-held" => none(Command::Act(Action::ClearHeld))?,
        "insert" => Command::Act(Action::Insert(needs("a key serial or label")?)),
        "remove" => none(Command::Act(Action::Remove))?,
        "wait-screen" if arg.is_empty() && !quoted => return Err("`wait-screen` needs the text to wait for".into()),
        "wait-screen" => Command::WaitScreen { text: arg.to_owned(), timeout: timeout.unwrap_or(DEFAULT_WAIT) },
        "screen" => none(Command::Screen)?,
        "status" => none(Command::Status)?,
        "sleep" => {
            let ms = needs("milliseconds")?;
            Command::Sleep(Duration::from_millis(ms.parse().map_err(|_| format!("`{ms}` is not milliseconds"))?))
        }
        "quit" => none(Command::Quit)?,
        other => return Err(format!("unknown command `{other}`")),
    })
}

/// A keypad key by its name ([`Button`]'s `FromStr`).
pub fn button(name: &str) -> Result<Button, String> {
    name.parse().map_err(|e| format!("no key `{name}`: {e}"))
}

/// Runs commands against a running driver.
#[derive(Clone, Debug)]
pub struct Controller {
    inputs: Sender<Input>,
    display: Arc<Display>,
}

impl Controller {
    /// A controller of the driver behind `inputs`, watching `display`.
    pub fn new(inputs: Sender<Input>, display: Arc<Display>) -> Controller {
        Controller { inputs, display }
    }

    /// Runs one command; the answer is the JSON a control socket replies with.
    pub fn run(&self, command: Command) -> Result<Value, String> {
        match command {
            Command::Act(action) => {
                let (done, result) = mpsc::channel();
                self.inputs.send(Input::Act { action, done }).map_err(|_| STOPPED)?;
                result.recv().map_err(|_| STOPPED)??;
                Ok(json!({"ok": true}))
            }
            Command::WaitScreen { text, timeout } => match self.display.wait_for(&text, timeout) {
                Ok((seq, screen)) => Ok(json!({"ok": true, "seq": seq, "lines": screen.lines()})),
                Err(last) => Err(format!("timed out waiting for {text:?}; the screen shows:\n{last}")),
            },
            Command::Screen => {
                let view = self.display.view();
                Ok(json!({"ok": true, "seq": view.seq, "lines": view.screen.lines()}))
            }
            Command::Status => {
                let view = self.display.view();
                let key = view.key.map(|k| k.to_string());
                Ok(json!({"ok": true, "mode": format!("{:?}", view.mode), "host": view.host, "key": key}))
            }
            Command::Sleep(duration) => {
                thread::sleep(duration);
                Ok(json!({"ok": true}))
            }
            Command::Quit => {
                self.quit()?;
                Ok(json!({"ok": true}))
            }
        }
    }

    /// Stops the driver; the process ends soon after, with whatever it had not sent.
    fn quit(&self) -> Result<(), String> {
        self.inputs.send(Input::Quit).map_err(|_| STOPPED.to_owned())
    }

    /// Runs a script file, stopping at the first failing command. Returns whether the
    /// script ended with `quit`.
    pub fn run_script(&self, path: &Path) -> Result<bool, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (number, line) in text.lines().enumerate() {
            let at = |e: String| format!("{}:{}: {e}", path.display(), number + 1);
            let Some(command) = parse(line).map_err(at)? else { continue };
            let quit = command == Command::Quit;
            self.run(command).map_err(at)?;
            if quit {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Serves the control socket: each connection sends command lines and gets one
    /// JSON line back for each, `{"ok":true,…}` or `{"ok":false,"error":…}`.
    pub fn serve(self, listener: Listener) -> std::io::Result<()> {
        thread::Builder::new().name("control-listen".into()).spawn(move || {
            while let Ok(stream) = listener.accept() {
                let controller = self.clone();
                let spawned = thread::Builder::new().name("control".into()).spawn(move || {
                    let Ok(mut out) = stream.try_clone() else { return };
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { return };
                        let (reply, quit) = match parse(&line) {
                            Ok(None) => continue,
                            // Answered before the driver is told: once it stops, the
                            // process exits, and a reply not yet written would be lost
                            // (the client read an empty reply under load).
                            Ok(Some(Command::Quit)) => (Ok(json!({"ok": true})), true),
                            Ok(Some(command)) => (controller.run(command), false),
                            Err(e) => (Err(e), false),
                        };
                        let reply = reply.unwrap_or_else(|e| json!({"ok": false, "error": e}));
                        // One write of the whole line, so a reader never sees part of it.
                        let written = out.write_all(format!("{reply}\n").as_bytes()).and_then(|()| out.flush());
                        if quit {
                            // A driver already stopped is as good as stopped.
                            let _ = controller.quit();
                        }
                        if quit || written.is_err() {
                            return;
                        }
                    }
                });
                if let Err(e) = spawned {
                    eprintln!("ped-sim: control: {e}");
                }
            }
        })?;
        Ok(())
    }
}

const STOPPED: &str = "the simulator has stopped";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_json_parse_to_the_same_commands() {
        let wait = |text: &str, s| Command::WaitScreen { text: text.into(), timeout: Duration::from_secs(s) };
        assert_eq!(parse("  # comment").unwrap(), None);
        assert_eq!(parse("press enter").unwrap(), Some(Command::Act(Action::Press(vec![Button::Enter]))));
        assert_eq!(parse("press <").unwrap(), Some(Command::Act(Action::Press(vec![Button::Back]))));
        assert_eq!(
            parse("type 102").unwrap(),
            Some(Command::Act(Action::Press(vec![Button::Digit(1), Button::Digit(0), Button::Digit(2)])))
        );
        assert_eq!(parse("wait-screen Keys read: 01 of 03").unwrap(), Some(wait("Keys read: 01 of 03", 10)));
        assert_eq!(parse("wait-screen \"Keys read: 01 of 03\" 30").unwrap(), Some(wait("Keys read: 01 of 03", 30)));
        assert_eq!(
            parse(r#"{"cmd":"wait-screen","arg":"Token found","timeout":5}"#).unwrap(),
            Some(wait("Token found", 5))
        );
        assert_eq!(
            parse(r#"{"cmd":"insert","arg":"0000001001"}"#).unwrap(),
            Some(Command::Act(Action::Insert("0000001001".into())))
        );
        for bad in ["press", "press 12", "type 12a", "remove now", "wait-screen", "fly", "{\"cmd\":1}", "sleep x"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
