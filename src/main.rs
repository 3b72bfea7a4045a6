//! `rtbench`: the command line. Parses flags into each crate's config and
//! calls its `run`; errors get context here and map to exit codes
//! (0 ok, 2 usage or input error, 99 thresholds/regression, 1 anything else).

mod bench;
mod child;
mod processes;

use anyhow::Context;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use protocol::units::{ByteSize, Count, Dur};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
#[command(
    name = "rtbench",
    version,
    about = "Measure short polling, long polling, SSE and WebSockets for real-time web apps",
    long_about = "rtbench settles with measurements how short polling, long polling, Server-Sent \
Events and WebSockets compare: delivery latency, request rate, bytes on the wire, loss, \
and server cost.\n\nStart with `rtbench server` and open the printed URL for the chat page."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compare the transports in one command: starts a server, runs the same
    /// scenario over each transport, writes result files and an HTML report.
    Bench(bench::BenchArgs),
    /// Run the reference chat server (one feed over all four transports).
    Server(ServerArgs),
    /// Drive simulated clients and open-loop publishers against a server over
    /// one transport and measure delivery latency, requests, bytes and loss.
    Load(loadgen::LoadArgs),
    /// Render result files (from load or bench, one machine or several) as
    /// an HTML report with PNG charts; files of one transport are merged exactly.
    Report(ReportArgs),
    /// Compare a baseline with current results and fail on a regression
    /// (exit 99): the performance gate for CI.
    Compare(CompareArgs),
    /// Work with target profiles (how to speak to a server other than
    /// rtbench's own; see docs/profiles.md).
    #[command(subcommand)]
    Profile(ProfileCommand),
}

#[derive(Subcommand, Debug)]
enum ProfileCommand {
    /// A dry run: on each transport the profile defines, one subscriber and
    /// one publisher exchange a few messages through the same code as a load
    /// run; prints what went over the wire and what to fix. Exit 0 when
    /// every transport delivered every message.
    Check(ProfileCheckArgs),
}

#[derive(Args, Debug)]
struct ProfileCheckArgs {
    /// The profile TOML file (or `rtbench` for the built-in one)
    #[arg(value_name = "FILE")]
    profile: String,
    /// Base URL of the server (loopback only)
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:3000")]
    target: String,
    /// Transports to check, comma-separated [default: every one the profile defines]
    #[arg(long, value_name = "LIST", value_parser = bench::parse_transports)]
    transports: Option<bench::TransportList>,
    /// Print only the verdicts, not the wire trace
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Default gates: latency.p50=+15%, latency.p99=+25%, deliveries_per_sec=-5%, \
bytes_per_delivery=+3%, loss=+0, duplicate=+0, reordered=+0, errors=+0. A gate given with \
--max-regression replaces the default for its metric.\n\nWith repeats on both sides (bench \
--repeat 3) a change is a regression only if the median moved past the gate AND every current run \
is worse than every baseline run; single runs compare plainly. Exit codes: 0 pass, 99 regression, \
2 usage or input error."
)]
struct CompareArgs {
    /// Baseline: a result file, a `bench` output folder, or a folder of repeats
    baseline: PathBuf,
    /// Current results, in the same forms
    current: PathBuf,
    /// A gate, e.g. p99=+10%, deliveries_per_sec=-5%, bytes_per_delivery=+2%, loss=+0 (repeatable)
    #[arg(long = "max-regression", value_name = "METRIC=CHANGE", value_parser = parse_gate)]
    gates: Vec<reports::Gate>,
    /// Also write the comparison as Markdown (a ready PR comment)
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Also write JUnit XML, one test case per gate
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Print JSON on stdout instead of the table
    #[arg(long)]
    json: bool,
    /// Compare results of different scenarios anyway (pairs by transport)
    #[arg(long)]
    allow_scenario_mismatch: bool,
}

fn parse_gate(s: &str) -> Result<reports::Gate, String> {
    reports::Gate::parse(s).map_err(|e| e.to_string())
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// Result files, or directories of them
    #[arg(required = true, value_name = "FILES")]
    files: Vec<PathBuf>,
    /// Directory for index.html and the PNG charts
    #[arg(
        long,
        short = 'o',
        value_name = "DIR",
        default_value = "rtbench-report"
    )]
    out: PathBuf,
    /// Summary on stdout: a table, or JSON for scripts
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// How a summary is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// An error the user fixes by changing the command line or its inputs (exit 2).
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// How a command ended, beyond errors.
enum Done {
    Ok,
    /// Results were written, but a run was partial or interrupted (exit 1).
    Problems,
    /// A threshold failed or compare found a regression (exit 99).
    Gate,
}

/// Parses threshold expressions up front: a typo is a usage error before
/// minutes of load, not after.
fn parse_thresholds(exprs: &[String]) -> anyhow::Result<Vec<reports::Threshold>> {
    reports::Threshold::parse_all(exprs).map_err(|e| anyhow::Error::new(Usage(e.to_string())))
}

/// Evaluates thresholds over the written results and prints the outcome.
fn check_thresholds(
    thresholds: &[reports::Threshold],
    files: &[protocol::results::ResultFile],
) -> anyhow::Result<bool> {
    if thresholds.is_empty() {
        return Ok(true);
    }
    let outcomes = reports::thresholds::evaluate(thresholds, files)?;
    let mut out = std::io::stdout().lock();
    writeln!(out)?;
    reports::thresholds::print_outcomes(&outcomes, &mut out)?;
    Ok(!reports::thresholds::any_failed(&outcomes))
}

fn input_error(e: reports::Error) -> anyhow::Error {
    if e.is_input_error() {
        anyhow::Error::new(Usage(e.to_string()))
    } else {
        anyhow::Error::new(e)
    }
}

fn compare(args: CompareArgs) -> anyhow::Result<Done> {
    let baseline = reports::compare::load_side(&args.baseline).map_err(input_error)?;
    let current = reports::compare::load_side(&args.current).map_err(input_error)?;
    let opts = reports::CompareOptions {
        gates: reports::Gate::with_defaults(args.gates),
        allow_scenario_mismatch: args.allow_scenario_mismatch,
    };
    let mut report = reports::compare(&baseline, &current, &opts).map_err(input_error)?;
    report.baseline.label = Some(args.baseline.display().to_string());
    report.current.label = Some(args.current.display().to_string());
    if let Some(p) = &args.markdown {
        std::fs::write(p, reports::compare::to_markdown(&report))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &args.junit {
        std::fs::write(p, reports::compare::to_junit(&report))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &reports::compare::to_json(&report))?;
        writeln!(out)?;
    } else {
        reports::compare::print_table(&report, &mut out)?;
    }
    Ok(if report.has_regression() {
        Done::Gate
    } else {
        Done::Ok
    })
}

/// `rtbench server`'s flags. Defaults come from `server::Config::default()`,
/// their one source, so `--help` shows what the server really uses.
#[derive(Args, Debug)]
struct ServerArgs {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Messages kept per room for pollers and reconnecting clients.
    #[arg(long, default_value_t = defaults().history, value_parser = parse_count_usize)]
    history: usize,
    /// Messages a push subscriber may fall behind before it is dropped with its cursor.
    #[arg(long, default_value_t = defaults().subscriber_queue, value_parser = parse_count_usize)]
    subscriber_queue: usize,
    /// SSE `: ping` and WebSocket ping interval.
    #[arg(long, default_value_t = Dur(defaults().heartbeat))]
    heartbeat: Dur,
    /// Longest a long poll is held (a client's `wait` is capped to this).
    #[arg(long, default_value_t = Dur(defaults().long_poll_max_wait))]
    long_poll_max_wait: Dur,
    /// Largest publish body or WebSocket message (e.g. 64k, 1M; sizes are binary).
    #[arg(long, default_value_t = size(defaults().max_message_bytes), value_parser = parse_message_size)]
    max_message_bytes: ByteSize,
    /// How long a user stays listed after their last connection or poll.
    #[arg(long, default_value_t = Dur(defaults().presence_timeout))]
    presence_timeout: Dur,
    /// Hard deadline for draining connections on SIGINT/SIGTERM.
    #[arg(long, default_value_t = Dur(defaults().shutdown_timeout))]
    shutdown_timeout: Dur,
    /// Fault knob for testing clients and regression gates, not a benchmark
    /// setting: every message becomes visible this much later on every
    /// transport (e.g. 5ms).
    #[arg(long, default_value_t = Dur(defaults().inject_latency), value_name = "DURATION")]
    inject_latency: Dur,
    /// With --inject-latency: extra random delay per message, up to this much.
    #[arg(long, default_value_t = Dur(defaults().inject_jitter), value_name = "DURATION")]
    inject_latency_jitter: Dur,
    /// Open connections beyond this are answered 503 (a WebSocket: close
    /// 1013); keep it below the process's descriptor limit (checked at start)
    #[arg(long, default_value_t = defaults().max_connections, value_parser = parse_count_usize)]
    max_connections: usize,
    /// Long polls held at once beyond this are answered 503
    #[arg(long, default_value_t = defaults().max_long_polls, value_parser = parse_count_usize)]
    max_long_polls: usize,
    /// Publishes per connection, e.g. 50/s or 50/s:100 (burst 100): past it
    /// HTTP answers 429 with Retry-After, a WebSocket gets an error frame and,
    /// after twice its burst of refusals in a row, close 1008 [default: off]
    #[arg(long, value_name = "RATE", value_parser = server::limits::RateLimit::parse)]
    publish_rate_limit: Option<server::limits::RateLimit>,
    /// Browser origins (besides this server's own) allowed to open a
    /// WebSocket or call the API, comma-separated, e.g.
    /// https://chat.example.com; others get 403 [default: any]
    #[arg(long, value_name = "ORIGINS", value_delimiter = ',')]
    allowed_origins: Option<Vec<String>>,
    /// Require an HS256 JWT signed with this secret on every room endpoint
    /// (`Authorization: Bearer` or `?token=`); its `sub` is the user name
    /// [default: off]. Prefer RTBENCH_AUTH_SECRET to keep it out of `ps`
    #[arg(
        long,
        value_name = "SECRET",
        env = "RTBENCH_AUTH_SECRET",
        hide_env_values = true
    )]
    auth_token_secret: Option<String>,
    /// Serve https and wss with this PEM certificate chain (with --tls-key);
    /// HTTP/2 is offered by ALPN for SSE and polling
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// A client must send its request headers (and finish a TLS handshake)
    /// within this; also how long an HTTP keep-alive connection may sit idle
    /// between requests (slowloris guard)
    #[arg(long, default_value_t = Dur(defaults().header_read_timeout), value_name = "DURATION")]
    header_read_timeout: Dur,
    /// Where messages go: `memory` (this process only) or
    /// `redis://HOST:PORT[/DB]` to serve one feed from several instances
    /// (Redis Streams; any instance resumes any client's cursor)
    #[arg(long, default_value_t = Broker(defaults().broker), value_name = "BROKER", value_parser = parse_broker)]
    broker: Broker,
    /// Shut down when standard input closes: `rtbench bench` starts its
    /// server this way so that the server never outlives it, even when the
    /// parent is killed.
    #[arg(long, hide = true)]
    exit_on_stdin_eof: bool,
}

fn defaults() -> server::Config {
    server::Config::default()
}

fn size(bytes: usize) -> ByteSize {
    ByteSize(bytes as u64)
}

/// `--broker`: in memory, or a Redis URL.
#[derive(Debug, Clone)]
struct Broker(Option<String>);

impl std::fmt::Display for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_deref().unwrap_or("memory"))
    }
}

fn parse_broker(s: &str) -> Result<Broker, String> {
    if s == "memory" {
        return Ok(Broker(None));
    }
    if s.starts_with("redis://") {
        return Ok(Broker(Some(s.to_string())));
    }
    Err(format!(
        "'{s}': use memory or redis://HOST:PORT[/DB] (e.g. redis://127.0.0.1:6379)"
    ))
}

fn parse_count_usize(s: &str) -> Result<usize, String> {
    let n = s.parse::<Count>().map_err(|e| e.to_string())?.0;
    if n == 0 {
        return Err("must be at least 1".into());
    }
    usize::try_from(n).map_err(|e| e.to_string())
}

fn parse_message_size(s: &str) -> Result<ByteSize, String> {
    let n = s.parse::<ByteSize>().map_err(|e| e.to_string())?;
    if n.0 < 64 {
        return Err("must be at least 64 bytes".into());
    }
    usize::try_from(n.0).map_err(|e| e.to_string())?;
    Ok(n)
}

impl ServerArgs {
    fn tls_files(&self) -> Option<server::tls::TlsFiles> {
        Some(server::tls::TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }

    fn config(&self) -> server::Config {
        server::Config {
            history: self.history,
            subscriber_queue: self.subscriber_queue,
            heartbeat: self.heartbeat.0,
            long_poll_max_wait: self.long_poll_max_wait.0,
            // Checked to fit by `parse_message_size`.
            max_message_bytes: usize::try_from(self.max_message_bytes.0).unwrap_or(usize::MAX),
            presence_timeout: self.presence_timeout.0,
            shutdown_timeout: self.shutdown_timeout.0,
            inject_latency: self.inject_latency.0,
            inject_jitter: self.inject_latency_jitter.0,
            broker: self.broker.0.clone(),
            max_connections: self.max_connections,
            max_long_polls: self.max_long_polls,
            publish_rate_limit: self.publish_rate_limit,
            allowed_origins: self.allowed_origins.clone(),
            auth_secret: self.auth_token_secret.clone(),
            header_read_timeout: self.header_read_timeout.0,
            tls: self.tls_files(),
            ..server::Config::default()
        }
    }
}

/// Cancels `token` on the first SIGINT or SIGTERM.
fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("rtbench: cannot watch SIGTERM: {e}");
                    let _ = tokio::signal::ctrl_c().await;
                    token.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        token.cancel();
    });
}

/// Cancels `token` when standard input reaches end of file (the parent
/// that holds its other end exited, however it exited).
fn cancel_on_stdin_eof(token: CancellationToken) {
    tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        loop {
            match tokio::io::AsyncReadExt::read(&mut stdin, &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        token.cancel();
    });
}

async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    match server::sys::raise_nofile_limit() {
        Ok(n) if n < 4096 => eprintln!(
            "rtbench server: only {n} file descriptors allowed; expect failures past ~{n} connections"
        ),
        Ok(n) if n <= args.max_connections as u64 => eprintln!(
            "rtbench server: --max-connections {} is not below this process's descriptor limit ({n}); \
             past ~{n} connections, accepts fail instead of answering 503",
            args.max_connections
        ),
        Ok(_) => {}
        Err(e) => eprintln!("rtbench server: cannot raise the descriptor limit: {e}"),
    }
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}: is another server using it? Try --addr 127.0.0.1:0 for a free port",
                args.addr
            )
        })?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let scheme = match args.tls_files() {
        Some(files) => {
            // Checked before anything is announced: a bad path is the first error.
            server::tls::server_config(&files).context("cannot set up TLS")?;
            "https"
        }
        None => "http",
    };
    // One machine-readable line first, for scripts and `rtbench bench`.
    let line = serde_json::to_string(&protocol::Listening {
        listening: format!("{scheme}://{addr}"),
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    drop(out);
    eprintln!("rtbench server: chat page at {scheme}://{addr}/ (Ctrl-C stops)");
    if !(args.inject_latency.0.is_zero() && args.inject_latency_jitter.0.is_zero()) {
        eprintln!(
            "rtbench server: injecting {:?} (+ up to {:?}) of latency into every delivery: \
             for testing clients and gates, not a benchmark",
            args.inject_latency.0, args.inject_latency_jitter.0
        );
    }
    let token = CancellationToken::new();
    cancel_on_signal(token.clone());
    if args.exit_on_stdin_eof {
        cancel_on_stdin_eof(token.clone());
    }
    server::run(listener, args.config(), token).await?;
    eprintln!("rtbench server: stopped");
    Ok(())
}

/// Loads, merges and renders result files; prints the summary.
pub fn render_report(
    files: &[PathBuf],
    out: &Path,
    format: Format,
    command: String,
) -> anyhow::Result<()> {
    let loaded = reports::load_results(files).map_err(input_error)?;
    let comparison = reports::merge(&loaded).map_err(input_error)?;
    let opts = reports::RenderOptions {
        command: Some(command),
        ..Default::default()
    };
    let rendered = reports::render(&comparison, out, &opts)
        .with_context(|| format!("writing the report into {}", out.display()))?;
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &reports::summary_json(&comparison))?;
            writeln!(stdout)?;
        }
        Format::Table => {
            reports::print_summary_table(&comparison, &mut stdout)?;
            writeln!(stdout, "\nreport: {}", rendered.index.display())?;
        }
    }
    Ok(())
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("rtbench {}", args.join(" "))
}

async fn load(args: loadgen::LoadArgs) -> anyhow::Result<Done> {
    let output = args.output.clone();
    let processes = args.processes;
    let plan = match args.plan() {
        Ok(p) => p,
        Err(e) => Cli::command().error(e.clap_kind(), e.to_string()).exit(),
    };
    let thresholds = parse_thresholds(&plan.thresholds)?;
    let cfg = plan.config;
    // A scenario file shared with `bench` may hold thresholds for the other
    // transports: this run cannot measure them, which is no failure.
    let (thresholds, skipped): (Vec<_>, Vec<_>) = thresholds
        .into_iter()
        .partition(|t| t.applies_to(cfg.transport));
    for t in &skipped {
        eprintln!(
            "rtbench load: threshold {t} does not apply to {}; skipped",
            cfg.transport
        );
    }
    if let Some(p) = &output {
        loadgen::check_output_writable(p).map_err(|e| Usage(e.to_string()))?;
    }
    if processes > 1 {
        // Ctrl-C ends every worker early with partial results, merged as usual.
        let cancel = CancellationToken::new();
        cancel_on_signal(cancel.clone());
        let dir = processes::WorkDir::new(output.as_ref());
        let file = processes::run(processes, &plan.scenario, &cfg, &dir.path, cancel).await?;
        loadgen::print_summary(&file, std::io::stdout().lock())?;
        if let Some(p) = &output {
            loadgen::write_results(p, &file).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("results: {}", p.display());
        }
        let passed = check_thresholds(&thresholds, std::slice::from_ref(&file))?;
        return Ok(if !passed {
            Done::Gate
        } else if file.partial {
            Done::Problems
        } else {
            Done::Ok
        });
    }
    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone());
    let r = loadgen::run(cfg, cancel).await.map_err(|e| {
        if e.is_usage() {
            anyhow::Error::new(Usage(e.to_string()))
        } else {
            anyhow::Error::new(e)
        }
    })?;
    loadgen::print_summary(&r.file, std::io::stdout().lock())?;
    if let Some(p) = &output {
        loadgen::write_results(p, &r.file).with_context(|| format!("writing {}", p.display()))?;
        eprintln!("results: {}", p.display());
    }
    for p in &r.problems {
        eprintln!("rtbench load: {p}");
    }
    let passed = check_thresholds(&thresholds, std::slice::from_ref(&r.file))?;
    // Loss and errors are measurements (thresholds judge them); a run that
    // did not complete is a failure.
    Ok(if !passed {
        Done::Gate
    } else if r.partial || r.cancelled {
        Done::Problems
    } else {
        Done::Ok
    })
}

async fn bench(args: bench::BenchArgs) -> anyhow::Result<Done> {
    let resolved = match args.shared.resolve() {
        Ok(r) => r,
        Err(e) => Cli::command().error(e.clap_kind(), e.to_string()).exit(),
    };
    let thresholds = parse_thresholds(&resolved.thresholds)?;
    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone());
    let out = args.out.clone();
    let format = args.format;
    let outcome = bench::run(args, resolved, cancel).await?;
    if outcome.files.is_empty() {
        anyhow::bail!("no run finished, so there is nothing to report");
    }
    render_report(&outcome.files, &out, format, command_line())?;
    for p in &outcome.problems {
        eprintln!("rtbench bench: {p}");
    }
    if outcome.cancelled {
        eprintln!("rtbench bench: interrupted; the report covers the runs that finished");
    }
    let files = reports::load_results(&outcome.files).map_err(input_error)?;
    let passed = check_thresholds(&thresholds, &files)?;
    Ok(if !passed {
        Done::Gate
    } else if outcome.failed || outcome.cancelled {
        Done::Problems
    } else {
        Done::Ok
    })
}

async fn profile_check(args: ProfileCheckArgs) -> anyhow::Result<Done> {
    let profile = loadgen::Profile::load(&args.profile).map_err(|e| Usage(e.to_string()))?;
    let transports = args.transports.map(|l| l.0).unwrap_or_default();
    if let Some(t) = transports.iter().find(|t| profile.sub(**t).is_none()) {
        return Err(Usage(format!(
            "profile '{}' ({}) has no [{t}] section",
            profile.name, profile.source_name
        ))
        .into());
    }
    println!(
        "profile '{}' ({}) against {}",
        profile.name, profile.source_name, args.target
    );
    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone());
    let outcomes = loadgen::check(profile.into(), &args.target, &transports, cancel)
        .await
        .map_err(|e| {
            if e.is_usage() {
                anyhow::Error::new(Usage(e.to_string()))
            } else {
                anyhow::Error::new(e)
            }
        })?;
    let mut all_ok = true;
    for o in &outcomes {
        println!("\n== {} ==", o.transport);
        if !args.quiet {
            for line in &o.trace {
                println!("  {line}");
            }
        }
        println!("{}: {}", o.transport, o.verdict);
        for h in &o.hints {
            println!("  hint: {h}");
        }
        all_ok &= o.ok;
    }
    Ok(if all_ok { Done::Ok } else { Done::Problems })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rtbench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Server(args) => serve(args).await.map(|()| Done::Ok),
            Command::Load(args) => load(args).await,
            Command::Bench(args) => bench(args).await,
            Command::Compare(args) => compare(args),
            Command::Profile(ProfileCommand::Check(args)) => profile_check(args).await,
            Command::Report(args) => {
                render_report(&args.files, &args.out, args.format, command_line())
                    .map(|()| Done::Ok)
            }
        }
    });
    // A blocking read of stdin (--exit-on-stdin-eof) cannot be interrupted;
    // don't let it hold the exit up.
    rt.shutdown_background();
    match result {
        Ok(Done::Ok) => ExitCode::SUCCESS,
        Ok(Done::Problems) => ExitCode::FAILURE,
        Ok(Done::Gate) => ExitCode::from(99),
        Err(e) => {
            eprintln!("rtbench: error: {e:#}");
            if e.downcast_ref::<Usage>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
