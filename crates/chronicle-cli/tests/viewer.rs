//! The browser trace viewer, from `cargo test`: `chronicle view` serves the
//! page and the trace on loopback (and nothing else), and the viewer's own
//! tests pass: the Node tests (`node --test viewer/test/`: BLAKE3, LZ4 and
//! the decoder against the Rust reader) and the end-to-end tests in headless
//! Chromium (`node --test viewer/e2e/`, driven by playwright-core).
//!
//! Node, Chromium (`/usr/bin/chromium` or `$CHROMIUM`) and the npm packages
//! (`npm ci` in `viewer/`) are needed for the last two. When one is missing
//! the test fails under CI (`CI` set, as `.ci/run` runs), and elsewhere is
//! skipped with a loud message saying what to install.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chronicle() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chronicle"));
    cmd.current_dir(root());
    cmd
}

fn fixture(name: &str) -> PathBuf {
    root().join("viewer/test/fixtures").join(name)
}

/// Whether this is a CI run, where missing prerequisites are failures.
fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Fails under CI, or skips loudly elsewhere, when `what` is missing.
fn require(ok: bool, what: &str) -> bool {
    if !ok {
        assert!(!ci(), "the viewer's tests need {what} under CI");
        // Straight to the stderr handle: libtest captures `eprintln!` of
        // passing tests, and this must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: the viewer's tests need {what}. ***\n\
             *** Install it to run them (README.md, \"The tests\"); CI does. ***\n"
        );
    }
    ok
}

// ------------------------------------------------------------ chronicle view

/// A running `chronicle view`, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `chronicle view TRACE` and reads the URL it prints.
fn serve(trace: &Path) -> (Server, String) {
    let mut child = chronicle()
        .arg("view")
        .arg(trace)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chronicle view starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let url = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(line) => line.trim().to_owned(),
        Err(_) => {
            let _ = child.kill();
            panic!("chronicle view printed no URL within 30 s");
        }
    };
    let port = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected URL {url:?}"));
    (Server { child, port }, url)
}

/// A response: status, headers (lowercase names), body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `raw` (a whole request) to the server and reads the response,
/// retrying the connection for up to 10 s while the server starts.
fn request(port: u16, raw: &str) -> Response {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("cannot connect to 127.0.0.1:{port}: {e}"),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("a response");
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: bytes[split + 4..].to_vec(),
    }
}

fn get(port: u16, path: &str) -> Response {
    request(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
    )
}

/// Every file the page needs: index.html, viewer.css and viewer/src/*.js.
fn viewer_files() -> Vec<String> {
    let mut files = vec!["index.html".to_owned(), "viewer.css".to_owned()];
    let mut js: Vec<String> = std::fs::read_dir(root().join("viewer/src"))
        .expect("viewer/src")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".js"))
        .map(|n| format!("src/{n}"))
        .collect();
    js.sort();
    files.extend(js);
    files
}

#[test]
fn view_serves_the_embedded_viewer_and_the_trace_on_loopback() {
    let trace = fixture("audit-plugin.ctrace");
    let (server, url) = serve(&trace);
    assert!(
        url.ends_with("/?trace=trace.ctrace&name=audit-plugin.ctrace"),
        "{url}"
    );
    let port = server.port;

    let page = get(port, "/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        page.body,
        std::fs::read(root().join("viewer/index.html")).unwrap()
    );
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"));

    let served = get(port, "/trace.ctrace");
    assert_eq!(served.status, 200);
    assert_eq!(served.body, std::fs::read(&trace).unwrap());

    // Every file of viewer/ is embedded, and is the current one.
    for file in viewer_files() {
        let r = get(port, &format!("/{file}"));
        assert_eq!(
            r.status, 200,
            "/{file} is not served: add it to ASSETS in view.rs"
        );
        assert_eq!(
            r.body,
            std::fs::read(root().join("viewer").join(&file)).unwrap(),
            "/{file}"
        );
    }
    let js = get(port, "/src/app.js?v=1");
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(js.header("x-content-type-options"), Some("nosniff"));

    // Nothing else: no other path, no traversal, no other method or host.
    assert_eq!(get(port, "/Cargo.toml").status, 404);
    assert_eq!(get(port, "/viewer/index.html").status, 404);
    assert_eq!(get(port, "/../Cargo.toml").status, 400);
    assert_eq!(get(port, "/src/../../Cargo.toml").status, 400);
    assert_eq!(get(port, "/src/%2e%2e/%2e%2e/Cargo.toml").status, 400);
    assert_eq!(get(port, "/src\\..\\app.js").status, 400);
    assert_eq!(get(port, "relative").status, 400);
    let post = request(
        port,
        &format!("POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"),
    );
    assert_eq!(post.status, 405);
    let rebinding = request(
        port,
        "GET /trace.ctrace HTTP/1.1\r\nHost: evil.example:80\r\n\r\n",
    );
    assert_eq!(rebinding.status, 403);
    assert!(rebinding.body.len() < 100);
    let no_host = request(port, "GET / HTTP/1.1\r\n\r\n");
    assert_eq!(no_host.status, 403);
    let localhost = request(
        port,
        &format!("GET / HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n"),
    );
    assert_eq!(localhost.status, 200);
    // Bounded requests: an oversized head is refused, garbage is a bad request.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(10_000)
    );
    assert_eq!(request(port, &big).status, 431);
    assert_eq!(request(port, "nonsense\r\n\r\n").status, 400);
    // HEAD: the headers only.
    let head = request(
        port,
        &format!("HEAD /trace.ctrace HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
    );
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let len = std::fs::metadata(&trace).unwrap().len().to_string();
    assert_eq!(head.header("content-length"), Some(len.as_str()));
    // Still serving after all that.
    assert_eq!(get(port, "/").status, 200);
    drop(server);
}

#[test]
fn view_refuses_a_missing_trace_and_a_busy_port() {
    let out = chronicle()
        .args(["view", "no/such/trace.ctrace"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: cannot read no/such/trace.ctrace"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(out.stdout.is_empty());

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = chronicle()
        .args(["view", "--port", &port.to_string()])
        .arg(fixture("kitchen-sink.ctrace"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn view_listens_on_the_port_given() {
    // A free port: bound, then released just before `chronicle view` takes it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = chronicle()
        .args(["view", "--port", &port.to_string()])
        .arg(fixture("kitchen-sink.ctrace"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = Server { child, port };
    assert_eq!(
        line.trim(),
        format!("http://127.0.0.1:{port}/?trace=trace.ctrace&name=kitchen-sink.ctrace")
    );
    assert_eq!(get(server.port, "/trace.ctrace").status, 200);
}

// --------------------------------------------------- the viewer's own tests

/// The Node and browser suites share the two cores of a CI machine badly:
/// they run one at a time.
static NODE: Mutex<()> = Mutex::new(());

fn has_node() -> bool {
    Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `node --test DIR` from the repository root, within `limit`; panics
/// with the whole output if it fails.
fn node_test(dir: &str, limit: Duration) {
    let _one = NODE.lock().unwrap_or_else(|e| e.into_inner());
    let mut child = Command::new("node")
        .args(["--test", dir])
        .current_dir(root())
        .env("CHRONICLE_BIN", env!("CARGO_BIN_EXE_chronicle"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let collect = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out = collect(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = collect(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let summary: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("# ") && !l.starts_with("# Subtest"))
        .collect();
    eprintln!("node --test {dir}:\n{}", summary.join("\n"));
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!("node --test {dir} failed ({s}):\n{out}\n{err}"),
        None => panic!("node --test {dir} took more than {limit:?}:\n{out}\n{err}"),
    }
}

#[test]
fn viewer_node_tests_pass() {
    if !require(has_node(), "Node.js 20 or newer (`node`)") {
        return;
    }
    node_test("viewer/test/", Duration::from_secs(600));
}

#[test]
fn viewer_browser_tests_pass() {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !require(has_node(), "Node.js 20 or newer (`node`)")
        || !require(
            chromium.exists(),
            "Chromium at /usr/bin/chromium or $CHROMIUM (apt-get install -y chromium)",
        )
        || !require(
            root().join("viewer/node_modules/playwright-core").exists(),
            "the npm packages (`npm ci` in viewer/)",
        )
    {
        return;
    }
    node_test("viewer/e2e/", Duration::from_secs(900));
}
