//! The admin port as a local user meets it (issue 14 items 5 and 6): `show` is open,
//! everything that stops or changes the server takes the admin token that only the
//! server's user, root and its group can read, no request makes the server read a file it
//! names, and idle connections never keep `-mode show` out.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// One request line on the admin port, as any local program can send it; the answer line.
fn ask(admin: u16, line: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", admin)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).unwrap();
    answer.trim_end().to_string()
}

fn token_file(server: &PedServer) -> PathBuf {
    server.dir.path().join("pedserver.admin-token")
}

/// `auth TOKEN REQUEST`, the token read from the server's token file as root (the test)
/// may.
fn with_token(server: &PedServer, request: &str) -> String {
    let token = std::fs::read_to_string(token_file(server)).unwrap();
    format!("auth {} {request}", token.trim())
}

#[test]
fn stopping_takes_the_token_that_only_the_servers_user_root_and_group_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    let mode = std::fs::metadata(token_file(&server)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640, "the token file is the user's and the group's alone");

    for request in ["stop", "disconnect pedclient1", "connect pedclient1", "auth 00 stop"] {
        let answer = ask(server.admin, request);
        assert!(answer.starts_with("error ") && answer.contains("needs the admin token of"), "{request}: {answer}");
    }
    assert!(ask(server.admin, "show").contains("\"pid\""), "show stays open to anyone");
    assert_eq!(server.status()["pid"], server.pid(), "still running after the refused stops");

    // Another user (nobody; only root can run a command as another user): `-mode stop`
    // cannot read the token, and says who can.
    if rustix::process::geteuid().is_root() {
        std::fs::set_permissions(server.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut args = vec!["-mode".to_string(), "stop".to_string()];
        args.extend(server.common());
        let o = Command::new(binary("pedserver")).args(&args).uid(65534).gid(65534).output().unwrap();
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(out.contains("this user may not read the admin token"), "{out}");
        assert!(out.contains("root and the members of the file's group"), "{out}");
        assert_eq!(server.status()["pid"], server.pid());
    }

    // A command line with another configuration file has no token for this server.
    let elsewhere = tempfile::tempdir().unwrap();
    let other_config = elsewhere.path().join("pedserver.toml");
    let admin = server.admin.to_string();
    let o = pedserver(&["-mode", "stop", "-configfile", other_config.to_str().unwrap(), "-admin", &admin]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("run this command with the -configfile the daemon was started with"), "{}", text(&o));

    let o = server.run("stop", &[]);
    assert!(o.status.success() && text(&o).contains("Ped Server stopped."), "{}", text(&o));
}

#[test]
fn no_request_makes_the_server_read_a_file_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "SECRET-LINE = = =\n").unwrap();
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for file in [secret.to_str().unwrap(), fifo.to_str().unwrap(), "/dev/zero"] {
        let started = Instant::now();
        let answer = ask(server.admin, &with_token(&server, &format!("connect pedclient1 {file}")));
        assert!(answer.starts_with("error no appliance named"), "{answer}");
        assert!(!answer.contains("SECRET"), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(2), "{file}: {:?}", started.elapsed());
    }
    assert_eq!(server.status()["pid"], server.pid());

    // Its own configuration file, read at each connect, is read bounded: a FIFO put in its
    // place is refused at once, not waited on.
    std::fs::remove_file(&server.config).ok();
    assert!(Command::new("mkfifo").arg(&server.config).status().unwrap().success());
    let answer = ask(server.admin, &with_token(&server, "connect pedclient1"));
    assert!(answer.starts_with("error ") && answer.contains("not a regular file"), "{answer}");
    std::fs::remove_file(&server.config).unwrap();
    assert_eq!(server.status()["pid"], server.pid());
}

#[test]
fn idle_admin_connections_do_not_make_show_report_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    let idle: Vec<TcpStream> = (0..12).map(|_| TcpStream::connect(("127.0.0.1", server.admin)).unwrap()).collect();
    for _ in 0..2 {
        let o = server.run("show", &[]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("Show command passed."), "{}", text(&o));
    }
    let o = server.run("stop", &[]);
    assert!(o.status.success(), "{}", text(&o));
    drop(idle);
}
