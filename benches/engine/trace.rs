//! `cargo bench --bench engine -- trace N W` (BENCHMARKS.md, "Issue 12", session 4): one
//! run of the ratio table's workload with the fake's request log, and where the time beyond
//! the bound went.

use super::*;

/// `-- trace N W`: one run at the table's latency with the fake's request log, and where
/// the time beyond the bound went: the gap before each link of the longest chain (from
/// its dependency's answer to its own request), and every call after the last worker.
pub(super) fn trace(n: usize, w: usize) {
    let rt = runtime();
    let latency = bench_latency();
    let shape = Shape::Chains { n, w };
    let mut model = Model::new(Latency::Fixed(latency), shape);
    model.log = Some(std::sync::Mutex::new(Vec::new()));
    let start = Instant::now();
    let (took, _, _dir, model) = rt.block_on(run_model(model, w as u32));
    let end = start + took;
    let mut log = model.log.as_ref().unwrap().lock().unwrap().clone();
    log.sort_by_key(|c| c.start);
    let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1000.0;
    let bound = latency * (n.div_ceil(w) as u32 + 3);
    println!(
        "\ntrace N={n} W={w} L={} ms: wall {:.1} ms, bound {:.1} ms, ratio {:.3}, {} calls",
        latency.as_millis(),
        took.as_secs_f64() * 1000.0,
        bound.as_secs_f64() * 1000.0,
        took.as_secs_f64() / bound.as_secs_f64(),
        log.len()
    );
    let worker = |id: u64| {
        log.iter()
            .find(|c| c.kind == "worker" && c.id == id)
            .cloned()
    };
    let analysis = log.iter().find(|c| c.kind == "analysis").unwrap().clone();
    // The chain whose last link answered last.
    let last = log
        .iter()
        .filter(|c| c.kind == "worker")
        .max_by_key(|c| c.end)
        .unwrap()
        .clone();
    let mut chain = vec![last.id];
    while chain[chain.len() - 1] > w as u64 {
        let prev = chain[chain.len() - 1] - w as u64;
        chain.push(prev);
    }
    chain.reverse();
    println!(
        "start -> analysis request: {:.1} ms",
        ms(start, analysis.start)
    );
    let mut prev_end = analysis.end;
    let mut gaps = 0.0;
    let mut over = 0.0;
    let mut slow = Vec::new();
    for id in &chain {
        let c = worker(*id).unwrap();
        let gap = ms(prev_end, c.start);
        gaps += gap;
        over += ms(c.start, c.end) - latency.as_secs_f64() * 1000.0;
        if gap > 5.0 {
            slow.push(format!("#{id} {gap:.1}"));
        }
        prev_end = c.end;
    }
    println!(
        "analysis {:.1} ms; longest chain: {} links, their calls {over:.1} ms over the latency \
         in all (timer and scheduling), gaps before them total {gaps:.1} ms; gaps over 5 ms: {}",
        ms(analysis.start, analysis.end),
        chain.len(),
        if slow.is_empty() {
            "none".into()
        } else {
            slow.join(", ")
        }
    );
    println!(
        "after the last worker answered (at {:.1} ms):",
        ms(start, last.end)
    );
    for c in log
        .iter()
        .filter(|c| c.end > last.end && c.kind != "worker")
    {
        println!(
            "  {:<10} {:>9.1} -> {:>9.1} ms",
            c.kind,
            ms(start, c.start),
            ms(start, c.end)
        );
    }
    println!(
        "last answer -> run end: {:.1} ms",
        ms(log.iter().map(|c| c.end).max().unwrap(), end)
    );
    // Replans that overlapped the chain: when each ran (start, end, offset to the reports).
    if std::env::var("BATON_BENCH_TRACE_ALL").is_ok() {
        for c in &log {
            println!(
                "  {:<10} #{:<4} {:>9.1} -> {:>9.1} ms",
                c.kind,
                c.id,
                ms(start, c.start),
                ms(start, c.end)
            );
        }
    }
}
