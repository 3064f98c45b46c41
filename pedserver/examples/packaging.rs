//! Writes the man page and the shell completions from the clap definition:
//! `cargo run -p pedserver --example packaging -- pedserver/packaging`.
//! The test `packaging_files_are_current` fails when the committed ones are stale.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "pedserver/packaging".into());
    write_all(Path::new(&dir))
}

/// The files, by name, with their content.
pub fn generated() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut man = Vec::new();
    clap_mangen::Man::new(pedserver::args::Cli::command()).render(&mut man).expect("render to memory");
    files.push(("pedserver.1".to_string(), man));
    for (shell, name) in [(Shell::Bash, "pedserver.bash"), (Shell::Zsh, "_pedserver"), (Shell::Fish, "pedserver.fish")]
    {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut pedserver::args::Cli::command(), "pedserver", &mut out);
        files.push((format!("completions/{name}"), out));
    }
    files
}

fn write_all(dir: &Path) -> std::io::Result<()> {
    for (name, bytes) in generated() {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
        std::fs::write(&path, bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn packaging_files_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging");
        for (name, bytes) in super::generated() {
            let committed = std::fs::read(dir.join(&name)).unwrap_or_default();
            assert!(committed == bytes, "{name} is stale: run the packaging example");
        }
    }
}
