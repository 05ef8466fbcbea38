//! The `fedimpute` binary as a child process, for what only a real process
//! shows: signal handling and exporting telemetry on exit.

use std::{path::Path, process::ExitStatus, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use tonic::transport::Channel;

/// A running `fedimpute serve registry`, bound to a loopback port.
#[derive(Debug)]
pub struct RunningBinary {
    child: Child,
    pub addr: String,
}

impl RunningBinary {
    /// Starts `binary serve registry` on `127.0.0.1:0` with JSON logs and
    /// waits until it says where it bound. `env` adds variables.
    pub async fn serve_registry(binary: &str, data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(binary)
            .args([
                "--data-dir",
                data_dir.to_str().expect("a UTF-8 path"),
                "serve",
                "registry",
            ])
            .env("FEDIMPUTE_REGISTRY_ADDR", "127.0.0.1:0")
            .env("FEDIMPUTE_LOG_FORMAT", "json")
            .env("FEDIMPUTE_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the binary");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read the binary's log") {
                let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if json.pointer("/fields/message").and_then(|m| m.as_str())
                    == Some("registry bound")
                {
                    return json
                        .pointer("/fields/addr")
                        .and_then(|a| a.as_str())
                        .expect("the bound address is logged")
                        .to_owned();
                }
            }
            panic!("the binary exited before binding");
        })
        .await
        .expect("the binary binds in time");
        // Keep draining stdout so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, addr }
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
