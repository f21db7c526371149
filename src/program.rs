//! Example programs started by tests, the way a person starts them: built
//! beside the test binary when missing, run with `PORT=0`, and the address
//! read back from their one `listening on …` line (`http://`, `https://`
//! or `unix:`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running program; killed when dropped.
pub struct Program {
    child: Child,
    announced: Announced,
}

/// Where a program said it listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announced {
    /// `listening on http://<addr>`.
    Http(SocketAddr),
    /// `listening on https://<addr>`.
    Https(SocketAddr),
    /// `listening on unix:<path>`.
    Unix(PathBuf),
}

impl Announced {
    /// Parses the text after `listening on `.
    pub fn parse(text: &str) -> Option<Announced> {
        if let Some(addr) = text.strip_prefix("http://") {
            addr.parse().ok().map(Announced::Http)
        } else if let Some(addr) = text.strip_prefix("https://") {
            addr.parse().ok().map(Announced::Https)
        } else {
            text.strip_prefix("unix:")
                .map(|p| Announced::Unix(PathBuf::from(p)))
        }
    }
}

/// The path of example `name` next to the running test binary, built first
/// (in the test's own profile) when a filtered test run did not build it.
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory")
        .join("examples")
        .join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let profile: &[&str] = if cfg!(debug_assertions) {
            &[]
        } else {
            &["--release"]
        };
        let built = Command::new(cargo)
            .args(["build", "--example", name])
            .args(profile)
            .status()
            .expect("cargo runs");
        assert!(built.success(), "could not build example {name}");
    }
    path
}

impl Program {
    /// Starts example `name` with `env` on top of `PORT=0` (unless `env`
    /// names a `PORT`).
    pub fn start(name: &str, env: &[(&str, &str)]) -> Program {
        let mut command = Command::new(example_path(name));
        command.envs(env.iter().copied());
        Program::spawn(command)
    }

    /// Runs `command` (which must end up running an example) with
    /// `PORT=0` unless it sets a `PORT`, and waits for its announcement.
    pub fn spawn(mut command: Command) -> Program {
        if !command.get_envs().any(|(name, _)| name == "PORT") {
            command.env("PORT", "0");
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("program output");
        let announced = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(Announced::parse)
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Program { child, announced }
    }

    /// Where it listens, over TCP (plain or TLS).
    ///
    /// # Panics
    ///
    /// When it announced a Unix socket.
    pub fn addr(&self) -> SocketAddr {
        match &self.announced {
            Announced::Http(addr) | Announced::Https(addr) => *addr,
            Announced::Unix(path) => panic!("listening on unix:{}", path.display()),
        }
    }

    /// What it announced.
    pub fn announced(&self) -> &Announced {
        &self.announced
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its open file descriptors.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |dir| dir.count())
    }

    /// A `/proc/<pid>/status` figure in KiB (`"VmRSS:"`, `"VmHWM:"`).
    pub fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    }

    /// CPU time (user + system) it has used, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        field(11) + field(12)
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Python 3 with `module` importable: Debian's interpreter (where the
/// project's scripts install packages such as `python3-websockets`) when
/// the first `python3` on the `PATH` lacks it.
pub fn python_with(module: &str) -> Command {
    let debian = "/usr/bin/python3";
    let has = |python: &str| {
        Command::new(python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has("python3") || !has(debian) {
        Command::new("python3")
    } else {
        Command::new(debian)
    }
}
