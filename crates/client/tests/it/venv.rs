//! Python virtual environments and npm packages for the outside implementations the tests
//! check against.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// The Python of `tests/<name>/`'s virtual environment, with the packages of its
/// `requirements.txt` installed (once per target dir and requirements).
pub fn python(name: &str) -> PathBuf {
    // Tests of one binary run in parallel threads; one of them builds the environment.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _building = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name);
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-venv"));
    let requirements = std::fs::read(source.join("requirements.txt")).expect("requirements");
    let stamp = venv.join("requirements.installed");
    let python = venv.join("bin").join("python");
    if std::fs::read(&stamp).ok().as_ref() != Some(&requirements) || !python.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .status()
            .expect("python3 must be installed to run the interoperability tests");
        assert!(status.success(), "cannot create a virtual environment");
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(source.join("requirements.txt"))
            .status()
            .expect("pip runs");
        assert!(
            status.success(),
            "pip install failed (the PyPI registry must be reachable)"
        );
        std::fs::write(&stamp, requirements).expect("stamp");
    }
    python
}

/// Runs `tests/<name>/oracle.py` with a JSON file holding `spec` (then `args`), and returns the
/// JSON it prints; a failure shows the oracle's stderr.
pub fn run_oracle(name: &str, spec: &serde_json::Value, args: &[&Path]) -> serde_json::Value {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}-{call}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(spec).expect("json")).expect("write");
    let output = Command::new(python(name))
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join(name)
                .join("oracle.py"),
        )
        .arg(&file)
        .args(args)
        .output()
        .expect("python runs");
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the oracle prints JSON")
}

/// `tests/<name>/` (a package.json, its package-lock.json and scripts) copied into the target
/// dir with its npm packages installed by `npm ci` (once per target dir and lockfile); returns
/// the copy's folder.
pub fn npm_package(name: &str) -> PathBuf {
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALLING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let lock = std::fs::read(source.join("package-lock.json")).expect("package-lock.json");
    let installed = std::fs::read(dir.join("package-lock.json")).ok();
    copy_dir(&source, &dir);
    if installed.as_ref() != Some(&lock) || !dir.join("node_modules").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect(
                "npm must be installed to run the interoperability tests \
                 (Debian: apt-get install nodejs npm)",
            );
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
