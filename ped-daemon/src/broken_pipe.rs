//! A command line whose reader went away (`pedserver -mode show | head -3`) ends quietly.
//! Rust ignores SIGPIPE, so a write to a closed pipe fails with EPIPE and `println!`
//! panics; setting SIGPIPE back to its default would take unsafe code. Instead the panic
//! of a failed print to a closed pipe ends the process without a word, with the status
//! a shell shows for a program that SIGPIPE ended (128 + 13), as `yes | head` gives.

use std::panic::PanicHookInfo;

/// The exit status: as if SIGPIPE had ended the process.
pub const STATUS: i32 = 128 + 13;

/// Installs the panic hook; every other panic is reported as before.
pub fn exit_quietly() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_broken_pipe(info) {
            std::process::exit(STATUS);
        }
        report(info);
    }));
}

/// Whether the panic is `println!`'s (or `eprintln!`'s) on EPIPE.
fn is_broken_pipe(info: &PanicHookInfo<'_>) -> bool {
    let payload = info.payload();
    let message =
        payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied());
    message.is_some_and(is_print_to_closed_pipe)
}

/// std's words: `failed printing to stdout: Broken pipe (os error 32)`.
fn is_print_to_closed_pipe(message: &str) -> bool {
    message.starts_with("failed printing to std")
        && message.contains(&format!("(os error {})", rustix::io::Errno::PIPE.raw_os_error()))
}

#[cfg(test)]
mod tests {
    use super::is_print_to_closed_pipe;

    #[test]
    fn only_a_print_to_a_closed_pipe_is_quiet() {
        assert!(is_print_to_closed_pipe("failed printing to stdout: Broken pipe (os error 32)"));
        assert!(is_print_to_closed_pipe("failed printing to stderr: Broken pipe (os error 32)"));
        assert!(!is_print_to_closed_pipe("failed printing to stdout: No space left on device (os error 28)"));
        assert!(!is_print_to_closed_pipe("index out of bounds: Broken pipe (os error 32)"));
    }
}
