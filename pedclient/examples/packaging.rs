//! Writes the man page and the shell completions (with the seed's single-dash forms, and
//! for the seed's name `PedClient` too) from the clap definition:
//! `cargo run -p pedclient --example packaging -- pedclient/packaging`.
//! The test `packaging_files_are_current` fails when the committed ones are stale.

use clap::CommandFactory;

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "pedclient/packaging".into());
    ped_daemon::packaging::write(&pedclient::args::Cli::command(), "PedClient", std::path::Path::new(&dir))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use ped_daemon::packaging;

    #[test]
    fn packaging_files_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging");
        let stale = packaging::stale(&pedclient::args::Cli::command(), "PedClient", &dir);
        assert!(stale.is_empty(), "{stale:?} are stale: run the packaging example");
    }

    #[test]
    fn bash_completes_the_seeds_single_dash_forms() {
        let script =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/completions/pedclient.bash")).unwrap();
        let complete = |words: &[&str]| packaging::bash_completions(&script, "pedclient", words).unwrap();
        let modes = ["start", "stop", "show", "config", "setid", "assignid", "releaseid", "deleteid", "testid"];
        assert_eq!(complete(&["pedclient", "-mode", ""]), modes);
        assert_eq!(complete(&["pedclient", "-m", ""]), modes);
        assert_eq!(complete(&["pedclient", "-mode", "assignid", "-id_s"]), ["-id_serialnumber"]);
        assert_eq!(complete(&["pedclient", "--hsml"]), ["--hsmlink", "--hsmlinkgroup"]);
        assert_eq!(complete(&["pedclient", "-hsmlinkg"]), ["-hsmlinkgroup"]);
    }
}
