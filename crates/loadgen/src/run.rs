//! The virtual users, the measurement window and the result line.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::Load;
use crate::flows::Login;

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
const CLK_TCK: f64 = 100.0;

/// What the virtual users share.
#[derive(Default)]
struct Shared {
    measuring: AtomicBool,
    stopping: AtomicBool,
    errors: AtomicU64,
    samples: Mutex<BTreeMap<String, u64>>,
}

/// One virtual user: logs in again and again until told to stop; returns the latencies (ms)
/// of the logins completed inside the measurement window.
async fn user<L: Login>(flow: Arc<L>, shared: Arc<Shared>) -> Vec<f64> {
    let mut conn = flow.endpoints().keep_alive();
    let mut latencies = Vec::new();
    while !shared.stopping.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        match flow.login(&mut conn).await {
            Ok(()) => {
                if shared.measuring.load(Ordering::Relaxed) {
                    latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
                }
            }
            Err(e) => {
                if shared.stopping.load(Ordering::Relaxed) {
                    break;
                }
                shared.errors.fetch_add(1, Ordering::Relaxed);
                *shared
                    .samples
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(format!("{e:#}"))
                    .or_default() += 1;
                // No hot loop against a server that refuses everything.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    latencies
}

/// User + system CPU time of a process (all its threads), in ticks: fields 14 and 15 of
/// /proc/PID/stat.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Busy time of CPUs `cpus` (comma-separated numbers; all but idle and iowait), in ticks,
/// from /proc/stat.
fn core_ticks(cpus: &str) -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut total = 0;
    for cpu in cpus.split(',') {
        let cpu: u32 = cpu.trim().parse().ok()?;
        let line = stat
            .lines()
            .find(|l| l.starts_with(&format!("cpu{cpu} ")))?;
        let f: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        total += f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)? + f.get(7)?;
    }
    Some(total)
}

fn seconds_of(a: Option<u64>, b: Option<u64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", b.saturating_sub(a) as f64 / CLK_TCK),
        _ => "n/a".into(),
    }
}

/// The latency at percentile `p` of sorted `latencies` (0 when there is none).
fn percentile(latencies: &[f64], p: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * latencies.len() as f64).floor() as usize;
    latencies[i.min(latencies.len() - 1)]
}

/// Runs `load.vus` users of `flow` through the warm-up and the measurement, prints the result
/// line, and answers whether every login succeeded.
pub async fn drive<L: Login>(load: &Load, flow: Arc<L>) -> Result<bool> {
    let shared = Arc::new(Shared::default());
    let users: Vec<_> = (0..load.vus)
        .map(|_| tokio::spawn(user(flow.clone(), shared.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(load.warmup)).await;
    let warmup_errors = shared.errors.load(Ordering::Relaxed);
    let server_pid = load.server_pid.map(|p| p.to_string());
    let server0 = server_pid.as_deref().and_then(cpu_ticks);
    let core0 = load.server_cpu.as_deref().and_then(core_ticks);
    let self0 = cpu_ticks("self");
    let load0 = load.load_cpu.as_deref().and_then(core_ticks);
    shared.measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(load.duration)).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let seconds = start.elapsed().as_secs_f64();
    let server1 = server_pid.as_deref().and_then(cpu_ticks);
    let core1 = load.server_cpu.as_deref().and_then(core_ticks);
    let self1 = cpu_ticks("self");
    let load1 = load.load_cpu.as_deref().and_then(core_ticks);
    shared.stopping.store(true, Ordering::Relaxed);

    let mut latencies = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(11);
    for u in users {
        match tokio::time::timeout_at(deadline, u).await {
            Ok(Ok(l)) => latencies.extend(l),
            Ok(Err(e)) => anyhow::bail!("a virtual user failed: {e}"),
            // A user still waiting on the server: its logins after the window do not count.
            Err(_) => {}
        }
    }
    latencies.sort_by(f64::total_cmp);
    let errors = shared.errors.load(Ordering::Relaxed);
    for (msg, n) in shared
        .samples
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        eprintln!("coeur-load: {n} x {msg}");
    }
    let logins = latencies.len();
    println!(
        "RESULT logins={logins} errors={errors} warmup_errors={warmup_errors} seconds={seconds:.2} \
         logins_per_s={:.1} p50_ms={:.2} p99_ms={:.2} server_cpu_s={} core_busy_s={} driver_cpu_s={} \
         load_core_busy_s={}",
        logins as f64 / seconds,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        seconds_of(server0, server1),
        seconds_of(core0, core1),
        seconds_of(self0, self1),
        seconds_of(load0, load1),
    );
    Ok(errors == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_sorted_sample() {
        let l: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&l, 50.0), 51.0);
        assert_eq!(percentile(&l, 99.0), 100.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }

    #[test]
    fn cpu_times_come_from_proc() {
        assert!(cpu_ticks("self").is_some());
        assert!(core_ticks("0").is_some());
        assert!(core_ticks("0,0") >= core_ticks("0"));
        assert!(core_ticks("0-1").is_none());
        assert!(cpu_ticks("0").is_none());
        assert_eq!(seconds_of(Some(100), Some(250)), "1.50");
        assert_eq!(seconds_of(None, Some(250)), "n/a");
    }
}
