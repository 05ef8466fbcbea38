//! The `fedimpute` binary as a child process, for what only a real process
//! shows: signal handling and exporting telemetry on exit.

use std::{
    collections::HashMap,
    path::Path,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use tonic::transport::Channel;

/// A running `fedimpute serve ...`, bound to loopback ports.
#[derive(Debug)]
pub struct RunningBinary {
    child: Child,
    /// The registry's address (or the first component's).
    pub addr: String,
    /// Each component's bound address, by name (`registry`, `users`).
    pub addrs: HashMap<String, String>,
    /// Every log line so far (JSON).
    pub log: Arc<Mutex<Vec<String>>>,
}

impl RunningBinary {
    /// Starts `binary serve registry` on `127.0.0.1:0` with JSON logs and
    /// waits until it says where it bound. `env` adds variables.
    pub async fn serve_registry(binary: &str, data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::serve(binary, data_dir, "registry", &["registry"], env).await
    }

    /// Starts `binary serve <component>` with every component on port 0 and
    /// waits until each of `expect` logged `<name> bound`.
    pub async fn serve(
        binary: &str,
        data_dir: &Path,
        component: &str,
        expect: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut child = Command::new(binary)
            .args([
                "--data-dir",
                data_dir.to_str().expect("a UTF-8 path"),
                "serve",
                component,
            ])
            .env("FEDIMPUTE_REGISTRY_ADDR", "127.0.0.1:0")
            .env("FEDIMPUTE_USERS_ADDR", "127.0.0.1:0")
            .env("FEDIMPUTE_JOBS_ADDR", "127.0.0.1:0")
            .env("FEDIMPUTE_GATEWAY_ADDR", "127.0.0.1:0")
            .env("FEDIMPUTE_LOG_FORMAT", "json")
            .env("FEDIMPUTE_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the binary");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let addrs = tokio::time::timeout(Duration::from_secs(60), async {
            let mut addrs = HashMap::new();
            while let Some(line) = lines.next_line().await.expect("read the binary's log") {
                log.lock().expect("log lock").push(line.clone());
                let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let message = json.pointer("/fields/message").and_then(|m| m.as_str());
                if let Some(name) = message.and_then(|m| m.strip_suffix(" bound")) {
                    let addr = json
                        .pointer("/fields/addr")
                        .and_then(|a| a.as_str())
                        .expect("the bound address is logged");
                    addrs.insert(name.to_owned(), addr.to_owned());
                    if expect.iter().all(|e| addrs.contains_key(*e)) {
                        return addrs;
                    }
                }
            }
            panic!("the binary exited before binding");
        })
        .await
        .expect("the binary binds in time");
        // Keep draining (and recording) stdout so the process never blocks
        // on a full pipe.
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().expect("log lock").push(line);
            }
        });
        Self {
            child,
            addr: addrs[expect[0]].clone(),
            addrs,
            log,
        }
    }

    /// A channel to a component.
    pub async fn channel_to(&self, component: &str) -> Channel {
        Channel::from_shared(format!("http://{}", self.addrs[component]))
            .expect("valid URL")
            .connect()
            .await
            .expect("connect to the binary")
    }

    /// The log so far, one string.
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("valid URL")
            .connect()
            .await
            .expect("connect to the binary")
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().expect("still running").to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("run kill");
        assert!(killed.success(), "kill -TERM {pid} failed");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the binary exits in time")
            .expect("wait for the binary")
    }
}
