//! The `coeur` command: the server and the operators' tools.
#![forbid(unsafe_code)]

mod cli;

#[tokio::main]
async fn main() {
    if let Err(e) = cli::run().await {
        eprintln!("coeur: {e:#}");
        std::process::exit(1);
    }
}
