//! Benchmark of the pure pipeline (load + validate + compile + offline plan) on a synthetic organisation of
//! 10,000 users, 2,000 groups, 50,000 grants, 1,000 clients and 100 namespaces, next to the bare serde_yaml parse
//! of the same bytes into `serde_yaml::Value`, in the same run. Prints figures; asserts nothing about time.
//!
//! Run: `cargo bench --bench pipeline`

use std::time::{Duration, Instant};

use serde::Deserialize;
use tollgate::compile::CompileContext;
use tollgate::objects::LiveState;
use tollgate::pipeline::{check, plan_cluster};
use tollgate::plan::Against;
use tollgate::synthetic::{Size, organisation};

const ROUNDS: usize = 5;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Peak resident memory of this process so far (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let size = Size::TARGET;
    let files = organisation(size);
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    let baseline_rss = peak_rss_mib().unwrap_or(0.0);
    let now = jiff::Timestamp::now();

    let mut pipeline = Vec::new();
    let mut objects = 0;
    let mut subjects = 0;
    for _ in 0..ROUNDS {
        let input = files.clone();
        let start = Instant::now();
        let loaded = tollgate::config::load(input);
        let checked = match check(&loaded, now) {
            Ok(checked) => checked,
            Err(error) => panic!("the synthetic organisation must be valid: {error}"),
        };
        let ctx = CompileContext {
            cluster: "bench",
            now,
            revision: None,
        };
        let (desired, plan) =
            plan_cluster(&checked.model, &ctx, &LiveState::default(), Against::Empty)
                .expect("the synthetic organisation compiles");
        pipeline.push(start.elapsed());
        objects = desired.objects.len();
        subjects = plan.access.len();
        std::hint::black_box(plan);
    }
    let pipeline_rss = peak_rss_mib().unwrap_or(0.0);

    let mut parse = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut documents = 0usize;
        for (_, text) in &files {
            for document in serde_yaml::Deserializer::from_slice(text) {
                let value =
                    serde_yaml::Value::deserialize(document).expect("generated YAML parses");
                std::hint::black_box(&value);
                documents += 1;
            }
        }
        parse.push(start.elapsed());
        std::hint::black_box(documents);
    }

    let pipeline = median(pipeline);
    let parse = median(parse);
    println!(
        "synthetic organisation: {} users, {} groups, {} grants, {} clients, {} namespaces; {} files, {:.1} MiB of YAML",
        size.users,
        size.groups,
        size.grants,
        size.clients,
        size.namespaces,
        files.len(),
        bytes as f64 / 1048576.0
    );
    println!("compiled objects: {objects}; subjects with access changes: {subjects}");
    println!("median of {ROUNDS} rounds, one thread:");
    println!(
        "  tollgate load+validate+compile+plan  {:>8.0} ms   (target < 1500 ms)",
        pipeline.as_secs_f64() * 1e3
    );
    println!(
        "  serde_yaml parse to Value (bare)     {:>8.0} ms",
        parse.as_secs_f64() * 1e3
    );
    println!(
        "  ratio pipeline / bare parse          {:>8.2} x   (target <= 2.5 x)",
        pipeline.as_secs_f64() / parse.as_secs_f64()
    );
    println!(
        "  peak RSS during the pipeline         {:>8.0} MiB (target < 500 MiB; {:.0} MiB before it, input included)",
        pipeline_rss, baseline_rss
    );
}
