//! The `syncwatch` command line: parse, load config, hand over to startup.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use syncwatch::config::{self, process_env};
use syncwatch::domain::SystemClock;
use syncwatch::simulator::{self, Simulator, scenario::load_scenario};
use syncwatch::startup::{Application, load_all_with};
use syncwatch::telemetry;

/// mimalloc: with thousands of connections syncing, allocation is a large share of the work,
/// and glibc's per-thread arenas fragment (higher RSS for the same live data).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "syncwatch",
    version,
    about = "Runs, watches and acts on data-integration syncs."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run syncwatch: providers, pipelines, rules, routing, tickets and the HTTP API.
    Serve {
        #[arg(long, default_value = "syncwatch.toml")]
        config: PathBuf,
    },
    /// Validate the config and every file it names; print each problem as file:line: message.
    Check {
        #[arg(long, default_value = "syncwatch.toml")]
        config: PathBuf,
    },
    /// Rule files: `rules test FILE…` runs unit tests in the `promtool test rules` format.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// SLOs: `slo generate` prints the Prometheus rule file equivalent to the SLO files.
    Slo {
        #[command(subcommand)]
        command: SloCommand,
    },
    /// Run the provider simulator alone.
    Simulate {
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: String,
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Run rule unit tests (promtool test rules format); exit 1 on any failure.
    Test {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SloCommand {
    /// Print the Prometheus rules (recordings and burn-rate alerts) of the config's SLO files.
    Generate {
        #[arg(long, default_value = "syncwatch.toml")]
        config: PathBuf,
    },
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Slo {
            command: SloCommand::Generate { config },
        } => {
            let loaded = config::load(&config, &process_env)
                .and_then(|s| syncwatch::slo::load_slo_files(&s.slo.files));
            match loaded {
                Ok(slos) => {
                    print!("{}", syncwatch::slo::generate::rule_file(&slos));
                    ExitCode::SUCCESS
                }
                Err(problems) => {
                    eprintln!("{problems}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Rules {
            command: RulesCommand::Test { files },
        } => {
            if syncwatch::rules::unittest::run_files(&files) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Serve { config } => {
            telemetry::init_tracing();
            let settings = match config::load(&config, &process_env) {
                Ok(s) => s,
                Err(problems) => {
                    eprintln!("{problems}");
                    return ExitCode::FAILURE;
                }
            };
            let app = match Application::build(settings, Arc::new(SystemClock), &process_env).await
            {
                Ok(app) => app,
                Err(e) => {
                    eprintln!("syncwatch: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            let code = match app.run_until_stopped().await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("syncwatch: {e}");
                    1
                }
            };
            // Everything worth finishing was finished or left in the store for the restart;
            // what still runs is abandoned work, and dropping it as the runtime winds down
            // would touch the database outside it.
            std::process::exit(code)
        }
        Command::Simulate { listen, scenario } => {
            telemetry::init_tracing();
            let sim = Simulator::new(Arc::new(SystemClock));
            if let Some(path) = scenario {
                match load_scenario(&path) {
                    Ok(faults) => faults.iter().for_each(|f| {
                        sim.add_fault(f);
                    }),
                    Err(p) => {
                        eprintln!("{p}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            let listener = match std::net::TcpListener::bind(&listen) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("syncwatch: cannot listen on {listen}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            eprintln!("simulator listening on http://{listen}");
            match simulator::start(listener, sim) {
                Ok(server) => match server.await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("syncwatch: {e}");
                        ExitCode::FAILURE
                    }
                },
                Err(e) => {
                    eprintln!("syncwatch: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    let settings = match config::load(path, &process_env) {
        Ok(s) => s,
        Err(problems) => {
            println!("{problems}");
            return ExitCode::FAILURE;
        }
    };
    match load_all_with(
        &settings,
        &process_env,
        syncwatch::config::loader::Mode::Check,
    ) {
        Ok(l) => {
            for w in &l.warnings {
                println!("{w}");
            }
            let rules: usize = l.rule_groups.iter().map(|g| g.rules.len()).sum();
            println!(
                "{}: ok ({} rule groups, {} rules, {} receivers, {} runbooks, {} provider profiles, {} stream schemas, {} SLOs)",
                path.display(),
                l.rule_groups.len(),
                rules,
                l.alerting.receivers.len(),
                l.runbooks.len(),
                l.profiles.len(),
                l.schemas.values().map(|s| s.len()).sum::<usize>(),
                l.slos.len()
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            println!("{problems}");
            ExitCode::FAILURE
        }
    }
}
