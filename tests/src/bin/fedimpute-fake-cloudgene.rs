//! The loopback fake of a Cloudgene server as a program, to try the whole
//! platform without an account on a real imputation server (README, "A
//! first session"). Prints its base URL and API token, then serves until
//! interrupted. Jobs advance one step per poll and succeed, unless the job
//! name carries a `fake:<scenario>` marker (tests/src/fakes/cloudgene.rs).

use fedimpute_tests::fakes::cloudgene::{CloudgeneConfig, FakeCloudgene};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let config = CloudgeneConfig::default();
    let token = config.tokens.first().cloned().unwrap_or_default();
    let fake = FakeCloudgene::start(config).await;
    println!("{} {token}", fake.base_url());
    let _ = tokio::signal::ctrl_c().await;
    fake.stop().await;
}
