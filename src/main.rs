//! The `qunbot` command line: the binary edge, where errors become messages and exit codes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use qunbot::config::{self, Config, Env};
use qunbot::reporting;
use qunbot::simulator::{Simulator, SimulatorOptions};
use qunbot::startup::Daemon;
use tracing_subscriber::EnvFilter;

mod cli;
use cli::check::check;
use cli::report::{report, report_source};
use cli::status::status;

#[derive(Parser)]
#[command(
    name = "qunbot",
    version,
    about = "Runs community-marketing chat groups over a OneBot v11 gateway"
)]
struct Cli {
    /// Log format on stderr (the level comes from RUST_LOG, default info).
    #[arg(long, value_enum, global = true, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: take the gateway's events, act, and log everything to SQLite.
    ///
    /// Exits 2 without starting if the config is invalid, or if no gateway.secret is
    /// set and gateway.listen is not a loopback address (unless --insecure).
    Run {
        /// The configuration file.
        #[arg(long, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
        /// Start even though no gateway.secret is set and gateway.listen is reachable
        /// from other machines: anyone who reaches it can push forged events.
        #[arg(long)]
        insecure: bool,
    },
    /// Validate the configuration and the files it names; exit 2 with FILE:LINE:COL lines if invalid.
    Check {
        #[arg(long, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
    },
    /// Print what an operator should look at, from the config's database: inputs the
    /// engine failed on or quarantined, work still waiting, and the outbox by state.
    ///
    /// Exits 1 when any event or timer failed or was quarantined (so a cron job or a
    /// monitor can alert), 0 otherwise, 2 if the config is invalid.
    Status {
        #[arg(long, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
    },
    /// Run the OneBot v11 gateway simulator on its own, for wiring things up.
    Simulate {
        /// Where the simulator's HTTP API listens.
        #[arg(long, default_value = "127.0.0.1:5700")]
        listen: SocketAddr,
        /// The daemon's webhook (e.g. http://127.0.0.1:8080/onebot): where pushed
        /// events go (POST /_simulator/push, --script).
        #[arg(long)]
        webhook: Option<String>,
        /// Push a few events at once (a connect, a join, a greeting, /ping).
        #[arg(long)]
        script: bool,
        /// Token API calls must carry.
        #[arg(long, env = "QUNBOT_ACCESS_TOKEN", hide_env_values = true)]
        access_token: Option<String>,
        /// Secret to sign pushed events with.
        #[arg(long, env = "QUNBOT_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Allow a non-loopback --listen (the control routes take no token).
        #[arg(long)]
        expose: bool,
        /// Dial the daemon's reverse WebSocket (e.g. ws://127.0.0.1:8080/onebot/ws) as
        /// NapCat does, redialling every 3 s while it is down; events go over it.
        #[arg(long)]
        ws_reverse: Option<String>,
        /// The account the simulator is logged in as.
        #[arg(long, default_value_t = qunbot::simulator::SELF_ID)]
        self_id: i64,
        /// A group the account is in, as `get_group_list` lists it (repeatable).
        #[arg(long = "group")]
        groups: Vec<i64>,
    },
    /// Run the word filter over lines of stdin; one JSON object per line on stdout.
    Scan {
        /// A word list to use instead of the config's.
        #[arg(long)]
        words: Option<PathBuf>,
        /// The configuration whose filter (and actions) to use.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Play a scripted stretch of group life on the simulator and print the transcript.
    Demo,
    /// The shop owner's report from the event log: per group and day, with totals,
    /// retention cohorts and breakdowns, as a table, CSV, JSON or one offline HTML page.
    ///
    /// Days are calendar days in the config's time zone (Asia/Shanghai with --db
    /// alone). The daily roll-up is brought up to date first; --rebuild reads the
    /// whole log again.
    Report {
        /// The daemon's configuration: its database, time zone and group names.
        #[arg(long, conflicts_with = "db")]
        config: Option<PathBuf>,
        /// The database file itself, when there is no config at hand.
        #[arg(long)]
        db: Option<PathBuf>,
        /// The last N days, today included (7d, 30d, 90d).
        #[arg(long, value_parser = qunbot::reporting::parse_since, conflicts_with_all = ["from", "to"])]
        since: Option<u32>,
        /// First day (YYYY-MM-DD), with --to.
        #[arg(long, requires = "to")]
        from: Option<chrono::NaiveDate>,
        /// Last day (YYYY-MM-DD), with --from.
        #[arg(long, requires = "from")]
        to: Option<chrono::NaiveDate>,
        /// One group's id; all groups when left out.
        #[arg(long)]
        group: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
        /// Write here instead of stdout (an HTML report on a terminal goes to
        /// qunbot-report.html when no file is given).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Empty the roll-up and rebuild it from the whole log.
        #[arg(long)]
        rebuild: bool,
        /// The CSV's header: en (the JSON field names) or zh (the page's Chinese labels).
        #[arg(long, value_enum, default_value = "en")]
        lang: ReportLang,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportLang {
    En,
    Zh,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Table,
    Csv,
    Json,
    Html,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, matches!(cli.command, Command::Demo));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("qunbot: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("qunbot: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat, quiet: bool) {
    // The demo shows refusals on purpose; its transcript says so, the log need not.
    let default = if quiet { "error" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colours only for a person at a terminal: a journal or a file gets plain text.
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { config, insecure } => {
            let env = Env::from_process();
            let loaded = match Config::load(&config, &env) {
                Ok(c) => c,
                Err(e) => return Ok(report_invalid(&e)),
            };
            // Exit 2 like an invalid config: the file must change (or the flag be
            // given) before this can run, so a supervisor restarting it is no help.
            match loaded.exposure(insecure) {
                Err(refused) => {
                    eprintln!("qunbot: {refused}");
                    return Ok(ExitCode::from(2));
                }
                Ok(config::Exposure::UnsignedExposed) => tracing::warn!(
                    "INSECURE: started with --insecure and no gateway.secret: the webhook on {} \
                     accepts unsigned events from anyone who can reach it; set gateway.secret to \
                     the gateway's HTTP POST secret",
                    loaded.gateway.listen
                ),
                Ok(config::Exposure::Signed | config::Exposure::UnsignedLoopback) => {}
            }
            for warning in &loaded.warnings {
                tracing::warn!("{warning}");
            }
            let daemon = Daemon::start(loaded, env).await?;
            daemon.run_until_signalled().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config } => {
            match Config::load_for_reading(&config, &Env::from_process()) {
                Ok(c) => Ok(check(&c).await),
                Err(e) => Ok(report_invalid(&e)),
            }
        }
        Command::Status { config } => match Config::load_for_reading(&config, &Env::from_process())
        {
            Ok(c) => status(&c).await,
            Err(e) => Ok(report_invalid(&e)),
        },
        Command::Simulate {
            listen,
            webhook,
            script,
            access_token,
            secret,
            expose,
            ws_reverse,
            self_id,
            groups,
        } => {
            let options = SimulatorOptions {
                access_token,
                secret,
                expose,
                self_id: Some(serde_json::json!(self_id)),
            };
            simulate(listen, webhook, ws_reverse, script, groups, options).await
        }
        Command::Scan { words, config } => scan(words, config),
        Command::Report {
            config,
            db,
            since,
            from,
            to,
            group,
            format,
            out,
            rebuild,
            lang,
        } => {
            let range = match (from, to) {
                (Some(from), Some(to)) => reporting::Range::Between(from, to),
                _ => reporting::Range::Last(since.unwrap_or(7)),
            };
            let format = match format {
                ReportFormat::Table => reporting::Format::Table,
                ReportFormat::Csv => reporting::Format::Csv,
                ReportFormat::Json => reporting::Format::Json,
                ReportFormat::Html => reporting::Format::Html,
            };
            let source = match report_source(config, db) {
                Ok(source) => source,
                Err(code) => return Ok(code),
            };
            let query = reporting::Query {
                timezone: source.timezone,
                range,
                group,
                group_names: source.group_names,
                labels: source.labels,
                rebuild,
            };
            let lang = match lang {
                ReportLang::En => reporting::Lang::En,
                ReportLang::Zh => reporting::Lang::Zh,
            };
            report(&source.database, query, format, lang, out).await
        }
        Command::Demo => {
            let mut stdout = std::io::stdout().lock();
            qunbot::demo::run(&mut stdout, Path::new(reporting::HTML_FILE)).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints each problem as `FILE:LINE:COL: reason` and gives exit code 2.
fn report_invalid(e: &config::ConfigError) -> ExitCode {
    for problem in e.problems() {
        eprintln!("{problem}");
    }
    ExitCode::from(2)
}

async fn simulate(
    listen: SocketAddr,
    webhook: Option<String>,
    ws_reverse: Option<String>,
    script: bool,
    groups: Vec<i64>,
    options: SimulatorOptions,
) -> anyhow::Result<ExitCode> {
    let sim = Simulator::start(listen, options)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    for group in groups {
        sim.join_group(group, &group.to_string());
    }
    println!("simulator: OneBot v11 HTTP API on {}", sim.api_url());
    println!(
        "simulator: recorded calls at {url}_simulator/calls, events to push at POST \
         {url}_simulator/push, member lists at {url}_simulator/members; Ctrl-C to stop",
        url = sim.api_url()
    );
    if let Some(url) = &ws_reverse {
        // A bridge keeps dialling until the daemon takes it.
        while let Err(e) = sim.dial_daemon(url).await {
            println!("simulator: cannot dial {url} ({e}); again in 3 s");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                _ = tokio::time::sleep(Duration::from_secs(3)) => {}
            }
        }
        println!("simulator: dialled {url}; events go over the WebSocket");
    }
    if let Some(webhook) = &webhook {
        sim.set_webhook(webhook);
    }
    if script && (webhook.is_some() || ws_reverse.is_some()) {
        let webhook = webhook.as_deref().unwrap_or("the WebSocket");
        let mut f = qunbot::simulator::events::EventFactory::new(sim.self_id());
        let shop = serde_json::json!(123456);
        let hong = qunbot::simulator::events::VirtualMember::new(10002, "小红", "member");
        for event in [
            f.lifecycle("connect"),
            f.joined(&shop, &hong, None),
            f.group_message(&shop, &hong, serde_json::json!("大家好！")),
            f.group_message(&shop, &hong, serde_json::json!("/ping")),
        ] {
            match sim.push(&event).await {
                Ok(status) => println!("pushed {} → {status}", event["post_type"]),
                Err(e) => println!("push to {webhook} failed: {e}"),
            }
        }
    }
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(300)) => {
                if let Some(url) = ws_reverse.as_ref().filter(|_| !sim.is_dialled()) {
                    match sim.dial_daemon(url).await {
                        Ok(()) => println!("simulator: dialled {url} again"),
                        Err(e) => println!("simulator: cannot dial {url} ({e}); again soon"),
                    }
                }
                let calls = sim.calls();
                for call in &calls[seen..] {
                    println!("call {} {} → {}", call.action, call.params, call.status);
                }
                seen = calls.len();
            }
        }
    }
    sim.stop().await;
    Ok(ExitCode::SUCCESS)
}

fn scan(words: Option<PathBuf>, config: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    // Only the filter's part of the config: scanning needs no gateway secrets.
    let loaded = match (&words, config) {
        (Some(_), None) => None,
        (_, path) => {
            let path = path.unwrap_or_else(|| PathBuf::from(config::DEFAULT_PATH));
            match Config::load_filter(&path) {
                Ok(filter) => filter,
                Err(e) => return Ok(report_invalid(&e)),
            }
        }
    };
    let rules = loaded.as_ref();
    let filter = match (words, rules) {
        (Some(path), _) => {
            let normalization = rules.map(|r| r.filter.normalization()).unwrap_or_default();
            let folds = rules.map(|r| r.filter.folds().clone()).unwrap_or_default();
            match config::load_words(&path, normalization) {
                Ok((list, warnings)) => {
                    for w in warnings {
                        eprintln!("{w}");
                    }
                    std::sync::Arc::new(qunbot::filter::Filter::with_folds(
                        &list,
                        normalization,
                        folds,
                    ))
                }
                Err(problems) => {
                    for p in problems {
                        eprintln!("{p}");
                    }
                    return Ok(ExitCode::from(2));
                }
            }
        }
        (None, Some(rules)) => rules.filter.clone(),
        (None, None) => anyhow::bail!("the config has no [filter] section; pass --words FILE"),
    };
    use std::io::IsTerminal;
    let stdin = std::io::stdin().lock();
    let batches = if stdin.is_terminal() {
        qunbot::scan::Batches::INTERACTIVE
    } else {
        qunbot::scan::Batches::piped()
    };
    let stdout = std::io::BufWriter::new(std::io::stdout().lock());
    qunbot::scan::scan_lines(stdin, stdout, &filter, rules, batches)?;
    Ok(ExitCode::SUCCESS)
}
