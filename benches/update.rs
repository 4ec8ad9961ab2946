//! `cargo bench --features embeddings --bench update`: OTA download
//! throughput beside `curl` on the same file from the same loopback server
//! (Python's `http.server`) in one run, and the self-test time per model.
//!
//! ojscog's download writes `<sha256>.part`, fsyncs, hashes the whole file and
//! renames it; the curl row is `curl -o` followed by `sha256sum` — the same
//! work a careful shell script does.

use ojscog::update::fetch::{download, Limits, Progress};
use ojscog::update::{ArtifactFile, Channel, ModelSelfTest, SelfTest};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SIZE: usize = 256 << 20;
const REPS: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("srv");
    std::fs::create_dir_all(&root).expect("mkdir");
    // Incompressible bytes (a cheap xorshift), so nothing on the path is flattered.
    let mut f = std::fs::File::create(root.join("blob.bin")).expect("create");
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..SIZE / buf.len() {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&buf).expect("write");
    }
    drop(f);
    let (sha256, size) = ojscog::update::fetch::hash_of(&root.join("blob.bin")).expect("hash");

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    let url = format!("http://127.0.0.1:{port}/blob.bin");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "http.server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let channel = Channel::Http(format!("http://127.0.0.1:{port}/index.json"));
    let file = ArtifactFile {
        url: "blob.bin".into(),
        path: "blob.bin".into(),
        sha256: sha256.clone(),
        size,
    };
    let (mut ours, mut curl) = (Vec::new(), Vec::new());
    for rep in 0..REPS {
        let dl = tmp.path().join(format!("dl-{rep}"));
        let t = Instant::now();
        download(
            &channel,
            &file,
            &dl,
            &Limits::default(),
            &Progress::default(),
            &|| false,
        )
        .expect("download");
        ours.push(size as f64 / 1e6 / t.elapsed().as_secs_f64());
        std::fs::remove_dir_all(&dl).expect("rm");

        let out = tmp.path().join(format!("curl-{rep}.bin"));
        let t = Instant::now();
        let ok = Command::new("curl")
            .args(["-sSf", "-o"])
            .arg(&out)
            .arg(&url)
            .status()
            .expect("curl");
        assert!(ok.success());
        let sum = Command::new("sha256sum")
            .arg(&out)
            .output()
            .expect("sha256sum");
        assert!(String::from_utf8_lossy(&sum.stdout).starts_with(&sha256));
        curl.push(size as f64 / 1e6 / t.elapsed().as_secs_f64());
        std::fs::remove_file(&out).expect("rm");
    }
    let _ = server.kill();
    let _ = server.wait();
    println!(
        "download of {} MB from python3 -m http.server on loopback, median of {REPS}:",
        SIZE >> 20
    );
    println!("| client | MB/s | runs |");
    println!("|---|---|---|");
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| ojscog (ureq, .part + fsync + sha256 + rename) | {:.0} | {} |",
        median(ours.clone()),
        fmt(&ours)
    );
    println!(
        "| curl -o + sha256sum | {:.0} | {} |",
        median(curl.clone()),
        fmt(&curl)
    );

    // Self-test time per model, on the developers' store (a scratch data dir
    // resolves to it), as after an update: load + known inference.
    let data = tmp.path().join("data");
    let t = ModelSelfTest {
        data_dir: data,
        llm: Default::default(),
    };
    println!();
    println!("| model | self-test | seconds |");
    println!("|---|---|---|");
    for name in [ojscog::models::EMBEDDING_MODEL, ojscog::models::LLM_MODEL] {
        let started = Instant::now();
        let outcome = t.run(name);
        println!(
            "| {name} | {outcome:?} | {:.2} |",
            started.elapsed().as_secs_f64()
        );
    }
}
