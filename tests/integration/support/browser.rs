//! A real browser for the web tests: Debian's headless Chromium driven through
//! Debian's `chromedriver` over the W3C WebDriver HTTP protocol (ureq +
//! serde_json), plus axe-core accessibility checks run inside the page.
//!
//! Each [`Browser`] owns its own chromedriver process (on a free loopback
//! port), one WebDriver session and a throwaway Chromium profile; dropping it
//! ends the session and kills the driver. Missing pieces fail loudly: the
//! browser tests never skip.

use serde_json::{json, Value};
use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Where `scripts/setup-test-env.sh` installs axe-core (override with `OJSCOG_AXE`).
pub const AXE_DEFAULT: &str = "/var/cache/ojscog/npm/node_modules/axe-core/axe.min.js";

/// WebDriver key codes, for [`Browser::press`] (and [`Browser::type_into`]).
pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";
/// Held down for the rest of the keys of one `press` (e.g. `press(&format!("{SHIFT}{TAB}"))`).
pub const SHIFT: &str = "\u{E008}";

/// Viewports narrower than this are phones (see [`Browser::start_with_size`]).
pub const PHONE_WIDTH: u32 = 600;

/// The element reference key of the W3C protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Every HTTP call to chromedriver gives up after this long.
const HTTP_TIMEOUT: Duration = Duration::from_secs(90);
/// Page loads and scripts (axe on a big page) inside the browser; shorter than
/// the HTTP timeout so that the driver's own error is what a test sees.
const SCRIPT_TIMEOUT_MS: u64 = 60_000;
/// How long chromedriver may take to say it is ready.
const DRIVER_START: Duration = Duration::from_secs(30);

/// Where test artifacts go: `$OJSCOG_ARTIFACTS`, else `$CARGO_TARGET_DIR/artifacts`,
/// else `<target dir>/artifacts` from the test executable's path.
pub fn artifacts_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("OJSCOG_ARTIFACTS") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(d).join("artifacts");
    }
    // The test binary lives in <target>/<profile>/deps/.
    if let Some(target) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent()?.parent().map(Path::to_path_buf))
    {
        return target.join("artifacts");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/artifacts")
}

/// An error answered by chromedriver (`{"value": {"error": …, "message": …}}`).
#[derive(Debug)]
struct WdError {
    error: String,
    message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// A headless Chromium under chromedriver, with one WebDriver session.
pub struct Browser {
    child: Child,
    port: u16,
    session: String,
    agent: ureq::Agent,
    artifacts: PathBuf,
    /// The Chromium profile and chromedriver's log; removed after the driver is gone.
    profile: tempfile::TempDir,
}

impl Browser {
    /// A desktop browser: a 1280×900 viewport.
    pub fn start() -> Browser {
        Browser::start_with_size(1280, 900)
    }

    /// A browser whose viewport is `width`×`height` CSS pixels; narrower than
    /// [`PHONE_WIDTH`] it is a phone (e.g. 390×844): a mobile viewport (pages
    /// without `<meta name="viewport">` are laid out 980 px wide and zoomed
    /// out, as on a phone) with touch.
    pub fn start_with_size(width: u32, height: u32) -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the browser tests need the Debian package `{package}` \
                 (scripts/setup-test-env.sh installs it)"
            );
        }
        let profile = tempfile::tempdir().expect("a temporary Chromium profile");
        let log_path = profile.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path).expect("chromedriver log file");
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let agent = ureq::AgentBuilder::new()
            .timeout(HTTP_TIMEOUT)
            .redirects(0)
            .build();
        // The struct first, so that a failed start still kills the driver (Drop).
        let mut b = Browser {
            child,
            port,
            session: String::new(),
            agent,
            artifacts: artifacts_dir(),
            profile,
        };
        b.wait_until_ready();
        let user_data = b.profile.path().join("chromium");
        let phone = width < PHONE_WIDTH;
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": {
                        "implicit": 0,
                        "pageLoad": SCRIPT_TIMEOUT_MS,
                        "script": SCRIPT_TIMEOUT_MS,
                    },
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        // The viewport itself is exactly width×height (the window
                        // alone is not: headless Chromium keeps room for its
                        // toolbars and is at least 500 px wide). Narrow sizes are
                        // a phone: a mobile layout viewport and touch.
                        "mobileEmulation": {
                            "deviceMetrics": {
                                "width": width,
                                "height": height,
                                "pixelRatio": 1,
                                "mobile": phone,
                                "touch": phone,
                            }
                        },
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            format!("--window-size={width},{height}"),
                            "--hide-scrollbars",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            format!("--user-data-dir={}", user_data.display()),
                        ],
                    },
                }
            }
        });
        let value = b.http("POST", "/session", Some(caps)).unwrap_or_else(|e| {
            panic!("chromedriver could not start Chromium: {e}{}", b.log_tail())
        });
        b.session = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in the new-session answer: {value}"))
            .to_string();
        b
    }

    /// Polls `GET /status` until chromedriver is ready; panics after [`DRIVER_START`].
    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + DRIVER_START;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited at start ({status}){}", self.log_tail());
            }
            let ready = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(2))
                .build()
                .get(&format!("http://127.0.0.1:{}/status", self.port))
                .call()
                .ok()
                .and_then(|r| r.into_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == json!(true));
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver on port {} was not ready within {DRIVER_START:?}{}",
                self.port,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The end of chromedriver's log, for panic messages.
    fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(self.profile.path().join("chromedriver.log")) {
            let _ = f.read_to_string(&mut text);
        }
        let start = text.len().saturating_sub(3000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        format!("\n--- chromedriver log (end) ---\n{}", &text[start..])
    }

    /// One WebDriver call: `path` below the driver's root. The answer's `value`.
    fn http(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let req = self.agent.request(method, &url);
        let result = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let (ok, resp) = match result {
            Ok(r) => (true, r),
            Err(ureq::Error::Status(_, r)) => (false, r),
            Err(e) => {
                return Err(WdError {
                    error: "transport".into(),
                    message: format!("{method} {path}: {e}"),
                })
            }
        };
        let status = resp.status();
        let v: Value = resp.into_json().map_err(|e| WdError {
            error: "bad answer".into(),
            message: format!("{method} {path}: HTTP {status}, not JSON: {e}"),
        })?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if ok {
            Ok(value)
        } else {
            Err(WdError {
                error: value["error"].as_str().unwrap_or("unknown error").into(),
                message: value["message"]
                    .as_str()
                    .unwrap_or(&format!("HTTP {status}: {v}"))
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            })
        }
    }

    /// A command of this session (`path` below `/session/{id}`); panics on error.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_cmd(method, path, body).unwrap_or_else(|e| {
            panic!(
                "WebDriver {method} {path} failed: {e} (page {})",
                self.url_for_message()
            )
        })
    }

    fn try_cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        self.http(method, &format!("/session/{}{path}", self.session), body)
    }

    /// The current URL, or why there is none, for panic messages (never panics).
    fn url_for_message(&self) -> String {
        match self.try_cmd("GET", "/url", None) {
            Ok(Value::String(u)) => u,
            Ok(v) => v.to_string(),
            Err(e) => format!("<unknown: {e}>"),
        }
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .try_cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .unwrap_or_else(|e| {
                panic!(
                    "finding `{css}` failed: {e} (page {})",
                    self.url_for_message()
                )
            });
        found
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|el| el[ELEMENT].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching `css`; panics naming the selector and the page.
    fn find(&self, css: &str) -> String {
        self.find_all(css)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element matches `{css}` on {}", self.url_for_message()))
    }

    /// Navigates and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn current_url(&self) -> String {
        self.cmd("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn title(&self) -> String {
        self.cmd("GET", "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn exists(&self, css: &str) -> bool {
        !self.find_all(css).is_empty()
    }

    /// The rendered (visible) text of the first element matching `css`.
    pub fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.element_text(&id)
    }

    /// The rendered text of every element matching `css`, in document order.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.find_all(css)
            .iter()
            .map(|id| self.element_text(id))
            .collect()
    }

    fn element_text(&self, id: &str) -> String {
        self.cmd("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Attribute `name` of the first element matching `css` (None if unset).
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        let id = self.find(css);
        match self.cmd("GET", &format!("/element/{id}/attribute/{name}"), None) {
            Value::String(s) => Some(s),
            Value::Null => None,
            v => Some(v.to_string()),
        }
    }

    /// A real click (scrolls into view; fails if another element would get it).
    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Clears the first element matching `css` and types `text` into it.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Submits a form the way a person does: a click on its button.
    pub fn submit_form(&self, css_of_button: &str) {
        self.click(css_of_button);
    }

    /// Sends `keys` to the focused element through the Actions API: each
    /// character is pressed and released; [`SHIFT`] (and the other modifier
    /// keys) stay held until the end of `keys` or a NULL key (`\u{E000}`).
    pub fn press(&self, keys: &str) {
        const NULL: char = '\u{E000}';
        // Shift, Control, Alt, Meta (left and right variants).
        let is_modifier = |c: char| {
            matches!(
                c,
                '\u{E008}'..='\u{E00A}' | '\u{E03D}' | '\u{E050}'..='\u{E053}'
            )
        };
        let mut actions = Vec::new();
        let mut held: Vec<char> = Vec::new();
        for c in keys.chars() {
            if c == NULL {
                for m in held.drain(..).rev() {
                    actions.push(json!({"type": "keyUp", "value": m.to_string()}));
                }
            } else if is_modifier(c) {
                if !held.contains(&c) {
                    held.push(c);
                    actions.push(json!({"type": "keyDown", "value": c.to_string()}));
                }
            } else {
                actions.push(json!({"type": "keyDown", "value": c.to_string()}));
                actions.push(json!({"type": "keyUp", "value": c.to_string()}));
            }
        }
        for m in held.drain(..).rev() {
            actions.push(json!({"type": "keyUp", "value": m.to_string()}));
        }
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
        self.cmd("DELETE", "/actions", None);
    }

    /// The outer HTML of the focused element (`<body …>` when nothing is focused).
    pub fn active_element_outer_html(&self) -> String {
        self.execute(
            "const e = document.activeElement; return e ? e.outerHTML : '';",
            vec![],
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Emulates a reader whose system asks for dark pages (`prefers-color-scheme: dark`), through the DevTools
    /// protocol (chromedriver's `goog/cdp/execute`).
    pub fn prefer_dark(&self) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
            })),
        );
    }

    /// Runs `script` as a function body (`arguments` are `args`); its return value.
    /// Scripts run through the driver are not subject to the page's CSP.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Like [`execute`](Self::execute), but the script ends by calling its last
    /// argument (`arguments[arguments.length - 1]`) with the result.
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Polls until an element matches `css`; false if none did within `timeout`.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.exists(css) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A PNG of the viewport at `<artifacts>/screenshots/<name>.png`; its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().unwrap_or_default()).unwrap_or_else(|| {
            panic!("the screenshot of {} is not base64", self.url_for_message())
        });
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let dir = self.artifacts.join("screenshots");
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// The current DOM, serialized.
    pub fn page_source(&self) -> String {
        self.cmd("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Deletes every cookie of the current page's site (e.g. to sign out).
    pub fn delete_cookies(&self) {
        self.cmd("DELETE", "/cookie", None);
    }

    /// Runs axe-core (WCAG 2.0/2.1 A and AA rules plus best practices) on the current page.
    pub fn axe(&self) -> AxeReport {
        let path = std::env::var_os("OJSCOG_AXE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(AXE_DEFAULT));
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "axe-core not found at {} ({e}): run scripts/setup-test-env.sh \
                 (or set OJSCOG_AXE to an axe.min.js)",
                path.display()
            )
        });
        let injected = self.execute(
            &format!(
                "{source}\n;return (typeof window.axe === 'object' && typeof window.axe.run === 'function') \
                 ? window.axe.version : null;"
            ),
            vec![],
        );
        assert!(
            injected.is_string(),
            "axe-core ({}) did not load into {}: got {injected}",
            path.display(),
            self.url_for_message()
        );
        let result = self.execute_async(
            r#"const done = arguments[arguments.length - 1];
window.axe.run(document, {
  runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
  resultTypes: ['violations'],
}).then(r => done({violations: r.violations.map(v => ({
  id: v.id,
  impact: v.impact || '',
  help: v.help,
  targets: v.nodes.map(n => n.target.map(t => typeof t === 'string' ? t : JSON.stringify(t)).join(' >>> ')),
}))}), e => done({error: String((e && e.stack) || e)}));"#,
            vec![],
        );
        if let Some(e) = result.get("error") {
            panic!("axe.run failed on {}: {e}", self.url_for_message());
        }
        let violations = result["violations"]
            .as_array()
            .unwrap_or_else(|| panic!("axe.run gave no violations list: {result}"))
            .iter()
            .map(|v| AxeViolation {
                id: v["id"].as_str().unwrap_or_default().to_string(),
                impact: v["impact"].as_str().unwrap_or_default().to_string(),
                help: v["help"].as_str().unwrap_or_default().to_string(),
                targets: v["targets"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|t| t.as_str().unwrap_or_default().to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        AxeReport { violations }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.http("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What axe-core found wrong on a page.
#[derive(Debug, Clone)]
pub struct AxeReport {
    pub violations: Vec<AxeViolation>,
}

/// One axe rule that failed, and where (`targets`: a CSS selector per element).
#[derive(Debug, Clone)]
pub struct AxeViolation {
    pub id: String,
    /// "minor", "moderate", "serious" or "critical".
    pub impact: String,
    pub help: String,
    pub targets: Vec<String>,
}

impl std::fmt::Display for AxeViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}] {}: {} at {}",
            self.impact,
            self.id,
            self.help,
            self.targets.join(", ")
        )
    }
}

impl std::fmt::Display for AxeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.violations.is_empty() {
            return write!(f, "no axe violations");
        }
        for v in &self.violations {
            writeln!(f, "{v}")?;
        }
        Ok(())
    }
}

impl AxeReport {
    /// Panics listing every violation whose impact is "serious" or "critical"
    /// (id, help, targets), naming `page`.
    pub fn assert_no_serious(&self, page: &str) {
        let serious: Vec<String> = self
            .violations
            .iter()
            .filter(|v| v.impact == "serious" || v.impact == "critical")
            .map(|v| format!("  {v}"))
            .collect();
        assert!(
            serious.is_empty(),
            "axe-core: {} serious or critical accessibility violation(s) on {page}:\n{}",
            serious.len(),
            serious.join("\n")
        );
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Standard base64 (with or without padding); None if malformed.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let bytes = bytes
        .strip_suffix(b"==")
        .or_else(|| bytes.strip_suffix(b"="))
        .unwrap_or(&bytes);
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..chunk.len()]);
    }
    Some(out)
}

#[test]
fn base64_decodes_what_chromedriver_sends() {
    assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
    assert_eq!(base64_decode("aGVsbG8h").unwrap(), b"hello!");
    assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
    assert_eq!(base64_decode("").unwrap(), b"");
    assert!(base64_decode("a").is_none());
    assert!(base64_decode("a*==").is_none());
}
