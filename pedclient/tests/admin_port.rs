//! The admin port as a local user meets it (issue 14 item 6): `show` is open, `stop` takes
//! the admin token that only pedclient's user, root and its group can read, and idle
//! connections never keep `-mode show` out.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use common::{PedClient, binary, text, wait_until};

/// One request line on the admin port, as any local program can send it; the answer line.
fn ask(admin: u16, line: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", admin)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).unwrap();
    answer.trim_end().to_string()
}

#[test]
fn stopping_takes_the_token_that_only_pedclients_user_root_and_group_can_read() {
    let c = PedClient::new().start(&[]);
    let token_file = c.dir.path().join("pedclient.admin-token");
    assert_eq!(std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777, 0o640);
    let pid = c.status()["pid"].clone();

    for request in ["stop", "auth 0123 stop"] {
        let answer = ask(c.admin, request);
        assert!(answer.starts_with("error ") && answer.contains("needs the admin token of"), "{request}: {answer}");
    }
    assert!(ask(c.admin, "show").contains("\"pid\""), "show stays open to anyone");
    assert_eq!(c.status()["pid"], pid, "still running after the refused stops");

    // Another user (nobody; only root can run a command as another user): `-mode stop`
    // cannot read the token, and says who can.
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        std::fs::set_permissions(c.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let admin = c.admin.to_string();
        let config = c.config();
        let args = ["-mode", "stop", "-configfile", config.to_str().unwrap(), "-admin", &admin];
        let o = Command::new(binary("pedclient")).args(args).uid(65534).gid(65534).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("this user may not read the admin token"), "{}", text(&o));
        assert_eq!(c.status()["pid"], pid);
    }

    let token = std::fs::read_to_string(&token_file).unwrap();
    assert_eq!(ask(c.admin, &format!("auth {} stop", token.trim())), "ok");
    wait_until("pedclient stops", || TcpStream::connect(("127.0.0.1", c.admin)).is_err());
}

#[test]
fn idle_admin_connections_do_not_make_show_report_not_running() {
    let c = PedClient::new().start(&[]);
    let idle: Vec<TcpStream> = (0..12).map(|_| TcpStream::connect(("127.0.0.1", c.admin)).unwrap()).collect();
    for _ in 0..2 {
        let o = c.run("show", &[]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("Show command passed."), "{}", text(&o));
    }
    let o = c.run("stop", &[]);
    assert!(o.status.success(), "{}", text(&o));
    drop(idle);
}
