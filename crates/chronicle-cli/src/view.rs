//! `chronicle view`: the browser trace viewer, served on loopback with the
//! trace preloaded.
//!
//! The viewer (`viewer/` in the repository: static HTML, CSS and classic
//! scripts) is embedded in the binary, so the command works from any
//! directory. A tiny HTTP/1.1 server on `127.0.0.1` (std only) serves those
//! files and the trace, and prints the page's URL on stdout; it runs until
//! interrupted.
//!
//! **Invariants:** the server answers only `GET`/`HEAD` for the embedded
//! files and the one trace, by exact path: nothing on disk is reachable
//! through it, so path traversal is impossible by construction (and such
//! paths are refused with 400 before any lookup). Requests are bounded (an
//! 8 KiB head, a cap on concurrent connections, and a deadline for the whole
//! exchange: a client that sends its head or reads the answer a byte at a
//! time loses its connection when the deadline passes, however often it
//! sends, so slow clients cannot hold every slot), and a
//! `Host` other than the loopback address and port is refused, so that a
//! web page cannot reach the trace through DNS rebinding. The page itself
//! makes no request beyond this server (its Content-Security-Policy says so).

use crate::failure::Failure;
use clap::Args;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `chronicle view`.
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// The trace (.ctrace) to open. The viewer verifies it in the browser and
    /// shows a clear message if it is altered, truncated or not a trace.
    pub trace: PathBuf,
    /// The port on 127.0.0.1 (default: a free port chosen by the system).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Also open the page in the system's browser (xdg-open, open or start).
    #[arg(long)]
    pub open: bool,
}

/// One embedded file of the viewer: its URL path, its content type, its bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: concat!("/", $path),
            content_type: $type,
            bytes: include_bytes!(concat!("../../../viewer/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the page loads. `tests/viewer.rs` checks that this list covers
/// `viewer/index.html`, `viewer/viewer.css` and every `viewer/src/*.js`.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("viewer.css", "text/css; charset=utf-8"),
    asset!("src/blake3.js", JS),
    asset!("src/lz4.js", JS),
    asset!("src/trace.js", JS),
    asset!("src/model.js", JS),
    asset!("src/ui.js", JS),
    asset!("src/app.js", JS),
    asset!("src/worker.js", JS),
];

/// Where the trace is served.
const TRACE_PATH: &str = "/trace.ctrace";

/// The largest trace served (the viewer itself refuses larger event streams).
const MAX_TRACE: u64 = 1 << 30;

/// The longest request head read (request line and headers).
const MAX_HEAD: usize = 8 * 1024;

/// Connections handled at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 32;

/// How long a client has to send its whole request head.
const HEAD_DEADLINE: Duration = Duration::from_secs(10);

/// How long a client has for the whole exchange, head and answer (the
/// largest trace, 1 GiB, takes a few seconds on loopback).
const REQUEST_DEADLINE: Duration = Duration::from_secs(120);

/// The same policy as the page's `<meta>`, plus framing: only this origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; worker-src 'self'; font-src 'self'; object-src 'none'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `chronicle view`: serve the viewer and the trace on 127.0.0.1 until
/// interrupted; the page's URL goes to stdout, instructions to stderr.
pub fn view(args: &ViewArgs) -> Result<(), Failure> {
    let trace = read_trace(args)?;
    let port = args.port.unwrap_or(0);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| {
        Failure::input(format!("cannot listen on 127.0.0.1:{port}: {e}"))
            .hint("choose another --port, or omit --port to take a free one")
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::input(format!("cannot read the server's address: {e}")))?
        .port();
    let name = args.trace.file_name().map_or_else(
        || "trace.ctrace".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let url = format!(
        "http://127.0.0.1:{port}/?trace={}&name={}",
        &TRACE_PATH[1..],
        percent_encode(&name)
    );
    println!("{url}");
    let _ = io::stdout().flush();
    eprintln!(
        "Serving the trace viewer for {} on 127.0.0.1:{port} (loopback only).",
        args.trace.display()
    );
    eprintln!("Open the URL above in a browser; press Ctrl-C to stop.");
    if args.open {
        open_browser(&url);
    }
    let server = Arc::new(Server {
        trace,
        authorities: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
        active: AtomicUsize::new(0),
        head_deadline: HEAD_DEADLINE,
        request_deadline: REQUEST_DEADLINE,
    });
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if server.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            server.active.fetch_sub(1, Ordering::SeqCst);
            // Too busy: answer inline, without reading the request.
            let mut stream = Deadline::new(&stream, HEAD_DEADLINE);
            let _ = respond(&mut stream, 503, "text/plain", b"busy\n", false);
            continue;
        }
        let server = Arc::clone(&server);
        std::thread::spawn(move || {
            let _ = server.handle(&stream);
            server.active.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

/// Reads the trace whole, so that the file served is one consistent snapshot.
fn read_trace(args: &ViewArgs) -> Result<Vec<u8>, Failure> {
    let path = &args.trace;
    let cannot = |e: io::Error| {
        Failure::input(format!("cannot read {}: {e}", path.display())).hint(
            "give the path of a .ctrace file, e.g. one written by `chronicle trace ... --out T`",
        )
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(Failure::input(format!("{} is not a file", path.display()))
            .hint("give the path of a .ctrace file"));
    }
    if meta.len() > MAX_TRACE {
        return Err(Failure::input(format!(
            "{} is {} bytes, more than the viewer's limit of {MAX_TRACE}",
            path.display(),
            meta.len()
        ))
        .hint("use `chronicle inspect` or `chronicle debug` for traces this large"));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_TRACE)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    Ok(bytes)
}

struct Server {
    trace: Vec<u8>,
    /// The `Host` values accepted: this server's own address and port.
    authorities: [String; 2],
    active: AtomicUsize,
    /// See [`HEAD_DEADLINE`].
    head_deadline: Duration,
    /// See [`REQUEST_DEADLINE`].
    request_deadline: Duration,
}

/// A parsed request head.
struct Request {
    method: String,
    path: String,
    host: Option<String>,
}

impl Server {
    /// Answers one request and closes the connection.
    fn handle(&self, stream: &TcpStream) -> io::Result<()> {
        let whole = Deadline::new(stream, self.request_deadline);
        let head = read_head(&mut Deadline::new(stream, self.head_deadline));
        let stream = &mut { whole };
        let req = match head {
            Ok(Some(req)) => req,
            Ok(None) => return respond(stream, 400, "text/plain", b"bad request\n", false),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return respond(
                    stream,
                    431,
                    "text/plain",
                    b"request head too large\n",
                    false,
                )
            }
            Err(e) => return Err(e),
        };
        let head = req.method == "HEAD";
        if req.method != "GET" && !head {
            return respond(stream, 405, "text/plain", b"only GET and HEAD\n", false);
        }
        if !req
            .host
            .as_ref()
            .is_some_and(|h| self.authorities.contains(h))
        {
            return respond(stream, 403, "text/plain", b"forbidden host\n", head);
        }
        // The path without its query; only exact, plain paths are served.
        let path = req.path.split(['?', '#']).next().unwrap_or_default();
        if !path.starts_with('/')
            || path.contains("..")
            || path.contains('\\')
            || path.contains('%')
        {
            return respond(stream, 400, "text/plain", b"bad path\n", head);
        }
        let path = if path == "/" { "/index.html" } else { path };
        if path == TRACE_PATH {
            return respond(stream, 200, "application/octet-stream", &self.trace, head);
        }
        match ASSETS.iter().find(|a| a.path == path) {
            Some(a) => respond(stream, 200, a.content_type, a.bytes, head),
            None => respond(stream, 404, "text/plain", b"not found\n", head),
        }
    }
}

/// Reads a request head of at most [`MAX_HEAD`] bytes. `Ok(None)` if it is
/// malformed; an `InvalidData` error if it is too long.
fn read_head(stream: &mut Deadline<'_>) -> io::Result<Option<Request>> {
    let mut reader = BufReader::new(stream.take(MAX_HEAD as u64 + 1));
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        total += n;
        if total > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
        if n == 0 {
            return Ok(None); // the connection closed before the end of the head
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    let Some(first) = lines.first() else {
        return Ok(None);
    };
    let mut parts = first.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    if !version.starts_with("HTTP/1.") {
        return Ok(None);
    }
    let host = lines[1..].iter().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("host")
            .then(|| value.trim().to_ascii_lowercase())
    });
    Ok(Some(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        host,
    }))
}

/// Writes a complete response and closes (no keep-alive).
fn respond(
    stream: &mut Deadline<'_>,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: {content_type}\r\n\
         Content-Length: {}\r\n\
         Cache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\n\
         Cross-Origin-Resource-Policy: same-origin\r\n\
         Content-Security-Policy: {CSP}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()?;
    // Let the client read the whole response before the socket closes.
    let _ = stream.stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// A connection with a deadline for everything read from and written to it:
/// each read or write may block only until the deadline, so a peer that
/// trickles bytes cannot stretch an exchange by resetting a per-call timeout.
struct Deadline<'s> {
    stream: &'s TcpStream,
    until: Instant,
}

impl<'s> Deadline<'s> {
    /// `stream`, which must finish within `within` from now.
    fn new(stream: &'s TcpStream, within: Duration) -> Self {
        Deadline {
            stream,
            until: Instant::now() + within,
        }
    }

    /// The time left, or a `TimedOut` error once the deadline has passed.
    fn left(&self) -> io::Result<Duration> {
        match self.until.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(left),
            _ => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request's deadline passed",
            )),
        }
    }
}

/// A socket timeout (reported as `WouldBlock` on Unix) as `TimedOut`.
fn timed_out(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock => {
            io::Error::new(io::ErrorKind::TimedOut, "the request's deadline passed")
        }
        _ => e,
    }
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(self.left()?))?;
        let mut stream = self.stream;
        stream.read(buf).map_err(timed_out)
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(Some(self.left()?))?;
        let mut stream = self.stream;
        // At most 64 KiB a call, so that the deadline is checked between chunks.
        stream
            .write(&buf[..buf.len().min(64 * 1024)])
            .map_err(timed_out)
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut stream = self.stream;
        stream.flush()
    }
}

/// `s` for a URL query value: unreserved characters kept, the rest %XX.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Best effort: opens `url` with the platform's opener; failures are only reported.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(target_os = "windows") {
        ("cmd", vec!["/C", "start", "", url])
    } else {
        ("xdg-open", vec![url])
    };
    if let Err(e) = std::process::Command::new(opener.0).args(&opener.1).spawn() {
        eprintln!(
            "note: could not open a browser ({}: {e}); open the URL yourself",
            opener.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(
            percent_encode("audit run #1.ctrace"),
            "audit%20run%20%231.ctrace"
        );
        assert_eq!(percent_encode("a&b=c"), "a%26b%3Dc");
    }

    /// A server with the given deadlines, and a connected client socket
    /// whose server end `handle` answers on another thread.
    fn connection(
        head_deadline: Duration,
        request_deadline: Duration,
    ) -> (TcpStream, std::thread::JoinHandle<io::Result<()>>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = Server {
            trace: vec![7; 16 << 20],
            authorities: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
            active: AtomicUsize::new(0),
            head_deadline,
            request_deadline,
        };
        let client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let handler = std::thread::spawn(move || server.handle(&accepted));
        (client, handler)
    }

    fn request(port_of: &TcpStream, path: &str) -> String {
        let port = port_of.peer_addr().unwrap().port();
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
    }

    #[test]
    fn a_prompt_client_is_served() {
        let (mut client, handler) = connection(Duration::from_secs(30), Duration::from_secs(60));
        client
            .write_all(request(&client, "/trace.ctrace").as_bytes())
            .unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).unwrap();
        handler.join().unwrap().unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(answer.ends_with(&[7; 1024]));
        assert!(answer.len() > 16 << 20);
    }

    #[test]
    fn a_client_trickling_its_head_loses_the_connection_at_the_deadline() {
        // One byte every 50 ms: each read returns well within any per-read
        // timeout, but the head (about 40 bytes) would take 2 s to arrive;
        // the 300 ms deadline for the whole head ends it first.
        let (mut client, handler) = connection(Duration::from_millis(300), Duration::from_secs(60));
        let text = request(&client, "/");
        let mut sent = 0;
        for byte in text.as_bytes() {
            if client.write_all(&[*byte]).is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(50));
            if handler.is_finished() {
                break;
            }
        }
        let outcome = handler.join().unwrap();
        assert_eq!(
            outcome.unwrap_err().kind(),
            io::ErrorKind::TimedOut,
            "after {sent} bytes"
        );
        assert!(sent < text.len(), "the whole head went through");
    }

    #[test]
    fn a_client_reading_slowly_loses_the_connection_at_the_deadline() {
        // The client sends its request promptly, then reads 1 KiB every
        // 20 ms: the 16 MiB answer (more than the
        // kernel's socket buffers hold) would take minutes, far past the
        // 500 ms deadline of the whole exchange.
        let (mut client, handler) = connection(Duration::from_secs(30), Duration::from_millis(500));
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        client
            .write_all(request(&client, "/trace.ctrace").as_bytes())
            .unwrap();
        let mut got = 0usize;
        let mut buf = [0u8; 1024];
        while !handler.is_finished() {
            match client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let outcome = handler.join().unwrap();
        assert_eq!(outcome.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert!(
            got < 16 << 20,
            "the whole answer went through ({got} bytes)"
        );
    }

    #[test]
    fn assets_have_unique_plain_paths() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(
                a.path.starts_with('/') && !a.path.contains(".."),
                "{}",
                a.path
            );
            assert!(!a.bytes.is_empty(), "{}", a.path);
            assert!(ASSETS[..i].iter().all(|b| b.path != a.path), "{}", a.path);
        }
    }
}
