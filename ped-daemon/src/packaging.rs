//! A daemon's man page and shell completions, made from its clap definition by its
//! `packaging` example and checked current by that example's test.
//!
//! Administrators type the seed's single-dash spellings (`pedserver -mode start`), which
//! [`crate::args::normalise`] accepts; clap_complete knows only `--long` options. So each
//! script clap_complete writes is given the single-dash twin of every long option: in
//! bash, `-<TAB>` offers `-mode`, `-show`… (and `--<TAB>` the long forms) and `-mode <TAB>`
//! the modes; zsh and fish offer both forms, with their values.

use std::path::Path;
use std::process::Command;

use clap_complete::Shell;

/// The files of the daemon `cmd` names, by path under its `packaging` directory: the man
/// page `NAME.1` and the completions `completions/NAME.bash`, `completions/_NAME` (zsh)
/// and `completions/NAME.fish`, which complete the seed's name for it (`seed_name`,
/// e.g. `PedServer`, installed as a symlink) too.
pub fn files(cmd: &clap::Command, seed_name: &str) -> Vec<(String, Vec<u8>)> {
    let name = cmd.get_name().to_owned();
    let mut man = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut man).expect("a man page renders into memory");
    let mut files = vec![(format!("{name}.1"), man)];
    for (shell, file, twins) in [
        (Shell::Bash, format!("{name}.bash"), bash_twins as fn(&str, &str, &str) -> String),
        (Shell::Zsh, format!("_{name}"), zsh_twins),
        (Shell::Fish, format!("{name}.fish"), fish_twins),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), &name, &mut script);
        files.push((
            format!("completions/{file}"),
            twins(&String::from_utf8_lossy(&script), &name, seed_name).into_bytes(),
        ));
    }
    files
}

/// Writes [`files`] under `dir`.
pub fn write(cmd: &clap::Command, seed_name: &str, dir: &Path) -> std::io::Result<()> {
    for (name, bytes) in files(cmd, seed_name) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
        std::fs::write(&path, bytes)?;
    }
    Ok(())
}

/// The names of the files of [`files`] that differ from those under `dir`: the committed
/// ones that are stale.
pub fn stale(cmd: &clap::Command, seed_name: &str, dir: &Path) -> Vec<String> {
    let differs = |(name, bytes): &(String, Vec<u8>)| std::fs::read(dir.join(name)).ok().as_ref() != Some(bytes);
    files(cmd, seed_name).into_iter().filter(differs).map(|(name, _)| name).collect()
}

/// What bash offers for the last of `words` (the command line so far, the program's name
/// first, the word being completed last) with the completion `script` of program `name`
/// loaded, as `complete -F` calls it on a TAB.
pub fn bash_completions(script: &[u8], name: &str, words: &[&str]) -> std::io::Result<Vec<String>> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{}'", w.replace('\'', r"'\''"))).collect();
    let last = words.len().saturating_sub(1);
    // The script is `$1`; bash names the function after the program, `-` as `__`.
    let call = format!(
        "eval \"$1\"; COMP_WORDS=({}); COMP_CWORD={last}; _{} {} {} {}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        quoted.join(" "),
        name.replace('-', "__"),
        quoted[0],
        quoted[last],
        quoted[last.saturating_sub(1)],
    );
    let script = String::from_utf8_lossy(script);
    let out = Command::new("bash").arg("-c").arg(call).arg("bash").arg(&*script).output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

/// A `--name` of a completion script: letters, digits, `_` and `-`.
fn long_option(word: &str) -> Option<&str> {
    let name = word.strip_prefix("--")?;
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    plain.then_some(name)
}

/// bash: each `--name)` case of the word before the cursor also matches `-name`; the
/// options offered are the single-dash ones unless the word begun is `--`; the seed's name
/// is completed as the program's.
fn bash_twins(script: &str, name: &str, seed_name: &str) -> String {
    let mut out = String::new();
    for line in script.lines() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        match body.strip_suffix(')').and_then(long_option) {
            Some(name) => out.push_str(&format!("{indent}--{name}|-{name})\n")),
            None if body.starts_with("complete -F ") && body.ends_with(&format!(" {name}")) => {
                out.push_str(&format!("{line} {seed_name}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
                if body.starts_with("opts=\"") {
                    out.push_str(&format!("{indent}[[ ${{cur}} == --* ]] || opts=\"${{opts//--/-}}\"\n"));
                }
            }
        }
    }
    out
}

/// zsh: each `'--name…'` specification of `_arguments` (which runs to the line ending in
/// `' \`) is followed by the same one for `-name`; the seed's name is completed as the
/// program's.
fn zsh_twins(script: &str, name: &str, seed_name: &str) -> String {
    let mut out = String::new();
    let mut spec: Option<String> = None;
    for line in script.lines() {
        let named = [format!("#compdef {name}"), format!("    compdef _{name} {name}")];
        if named.iter().any(|n| n == line) {
            out.push_str(&format!("{line} {seed_name}\n"));
            continue;
        }
        if spec.is_none() && line.starts_with("'--") {
            spec = Some(String::new());
        }
        match &mut spec {
            Some(text) => {
                text.push_str(line);
                text.push('\n');
                if line.ends_with("' \\") {
                    out.push_str(text);
                    out.push('\'');
                    out.push_str(&text[2..]);
                    spec = None;
                }
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// fish: each `complete … -l name` also completes the old-style option `-o name`; the
/// seed's name is completed as the program's.
fn fish_twins(script: &str, name: &str, seed_name: &str) -> String {
    let mut out = String::new();
    for line in script.lines() {
        // Only the options before the description: it may say `-l` too.
        let (options, rest) = match line.find(" -d ") {
            Some(at) if line.starts_with("complete ") => line.split_at(at),
            _ => (line, ""),
        };
        let words: Vec<&str> = options.split(' ').collect();
        let mut twinned = Vec::with_capacity(words.len() + 2);
        for (i, word) in words.iter().enumerate() {
            twinned.push((*word).to_owned());
            if i > 0 && words[i - 1] == "-l" && line.starts_with("complete ") {
                twinned.extend(["-o".to_owned(), (*word).to_owned()]);
            }
        }
        out.push_str(&twinned.join(" "));
        out.push_str(rest);
        out.push('\n');
    }
    out.push_str(&format!("complete -c {seed_name} -w {name}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon() -> clap::Command {
        clap::Command::new("demo-daemon")
            .arg(clap::Arg::new("mode").short('m').long("mode").value_parser(["start", "stop", "show"]))
            .arg(clap::Arg::new("json").long("json").action(clap::ArgAction::SetTrue))
            .arg(clap::Arg::new("id_ip").long("id_ip").help("The pedserver's host (-l is not an option here)"))
    }

    fn script(files: &[(String, Vec<u8>)], name: &str) -> String {
        let (_, bytes) = files.iter().find(|(n, _)| n == name).unwrap();
        String::from_utf8(bytes.clone()).unwrap()
    }

    #[test]
    fn bash_completes_the_single_dash_forms_and_their_values() {
        let files = files(&daemon(), "DemoDaemon");
        let bash = script(&files, "completions/demo-daemon.bash");
        let complete = |words: &[&str]| bash_completions(bash.as_bytes(), "demo-daemon", words).unwrap();
        assert_eq!(complete(&["demo-daemon", "-mode", ""]), ["start", "stop", "show"]);
        assert_eq!(complete(&["demo-daemon", "-m", "st"]), ["start", "stop"]);
        assert_eq!(complete(&["demo-daemon", "--mode", "sh"]), ["show"]);
        assert_eq!(complete(&["demo-daemon", "-mo"]), ["-mode"]);
        assert_eq!(complete(&["demo-daemon", "--mo"]), ["--mode"]);
        assert_eq!(complete(&["demo-daemon", "-mode", "start", "-j"]), ["-json"]);
        assert_eq!(complete(&["demo-daemon", "-id"]), ["-id_ip"]);
        assert!(bash.contains("-o default demo-daemon DemoDaemon\n"), "{bash}");
    }

    #[test]
    fn zsh_and_fish_offer_each_long_option_with_one_dash_too() {
        let files = files(&daemon(), "DemoDaemon");
        let zsh = script(&files, "completions/_demo-daemon");
        for spec in ["'--mode=[]: :(start stop show)' \\", "'-mode=[]: :(start stop show)' \\"] {
            assert!(zsh.contains(spec), "{spec} in:\n{zsh}");
        }
        assert!(zsh.contains("'--json[]' \\\n'-json[]' \\\n"), "{zsh}");
        let fish = script(&files, "completions/demo-daemon.fish");
        assert!(fish.contains("complete -c demo-daemon -s m -l mode -o mode -r -f -a \"start\\t''\n"), "{fish}");
        assert!(zsh.starts_with("#compdef demo-daemon DemoDaemon\n"), "{zsh}");
        assert!(fish.ends_with("complete -c DemoDaemon -w demo-daemon\n"), "{fish}");
        assert!(fish.contains("-l id_ip -o id_ip -d 'The pedserver\\'s host (-l is not an option here)'"), "{fish}");
    }

    #[test]
    fn the_man_page_is_the_commands() {
        let files = files(&daemon(), "DemoDaemon");
        assert!(script(&files, "demo-daemon.1").starts_with(".ie \\n(.g .ds Aq \\(aq"));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(stale(&daemon(), "DemoDaemon", dir.path()).len(), 4);
        write(&daemon(), "DemoDaemon", dir.path()).unwrap();
        assert!(stale(&daemon(), "DemoDaemon", dir.path()).is_empty());
    }
}
