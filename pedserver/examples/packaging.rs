//! Writes the man page and the shell completions (with the seed's single-dash forms, and
//! for the seed's name `PedServer` too) from the clap definition:
//! `cargo run -p pedserver --example packaging -- pedserver/packaging`.
//! The test `packaging_files_are_current` fails when the committed ones are stale.

use clap::CommandFactory;

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "pedserver/packaging".into());
    ped_daemon::packaging::write(&pedserver::args::Cli::command(), "PedServer", std::path::Path::new(&dir))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use ped_daemon::packaging;

    #[test]
    fn packaging_files_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging");
        let stale = packaging::stale(&pedserver::args::Cli::command(), "PedServer", &dir);
        assert!(stale.is_empty(), "{stale:?} are stale: run the packaging example");
    }

    #[test]
    fn bash_completes_the_seeds_single_dash_forms() {
        let script =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/completions/pedserver.bash")).unwrap();
        let complete = |words: &[&str]| packaging::bash_completions(&script, "pedserver", words).unwrap();
        let modes = ["start", "stop", "show", "config", "connect", "disconnect", "update"];
        assert_eq!(complete(&["pedserver", "-mode", ""]), modes);
        assert_eq!(complete(&["pedserver", "-m", ""]), modes);
        assert_eq!(complete(&["pedserver", "-appliance", ""]), ["register", "list", "delete"]);
        assert_eq!(complete(&["pedserver", "-mode", "config", "-se"]), ["-set"]);
        assert_eq!(complete(&["pedserver", "-mode", "start", "-socketr"]), ["-socketreadtimeout"]);
        assert_eq!(complete(&["pedserver", "--pedw"]), ["--pedwritelay"]);
    }
}
