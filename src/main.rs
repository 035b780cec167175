//! The `coeur` command: the server and the operators' tools.
#![forbid(unsafe_code)]

mod cli;

/// mimalloc rather than the system's allocator: a request allocates and frees many small
/// buffers (headers, JSON, JWTs) across the runtime's threads, where the C library's
/// allocator spent a seventh of the server's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    if let Err(e) = cli::run().await {
        eprintln!("coeur: {e:#}");
        std::process::exit(1);
    }
}
