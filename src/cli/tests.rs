//! Unit tests of the command-line definitions (parsing, usage errors).

use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("baton").chain(args.iter().copied()))
}

#[test]
fn cli_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn words_join_into_one_task() {
    let cli = parse(&["--headless", "write", "a", "haiku"]).unwrap();
    assert_eq!(
        cli.action().unwrap(),
        Action::Run {
            task: "write a haiku".into(),
            headless: true,
            json: false
        }
    );
}

#[test]
fn common_flags_work_after_a_subcommand() {
    let cli = parse(&["resume", "--max-workers", "3", "--provider", "demo"]).unwrap();
    assert_eq!(cli.common.max_workers, Some(3));
    assert_eq!(cli.common.provider, Some(ProviderKind::Demo));
    assert_eq!(
        cli.action().unwrap(),
        Action::Resume {
            run: "latest".into(),
            headless: false,
            json: false
        }
    );
}

#[test]
fn out_of_range_values_are_usage_errors() {
    assert!(parse(&["--max-workers", "0"]).is_err());
    assert!(parse(&["--max-workers", "65"]).is_err());
    assert!(parse(&["--budget-usd", "0"]).is_err());
    assert!(parse(&["--budget-usd", "-1"]).is_err());
    assert!(parse(&["--base-url", "localhost:8080"]).is_err());
    assert_eq!(
        parse(&["--budget-usd", "$2.5"]).unwrap().common.budget_usd,
        Some(2.5)
    );
}

#[test]
fn json_needs_headless_and_headless_needs_a_task() {
    let e = parse(&["--json", "x"]).unwrap().action().unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let e = parse(&["--headless"]).unwrap().action().unwrap_err();
    assert!(e.to_string().contains("needs a task"));
    let e = parse(&["runs", "--headless"])
        .unwrap()
        .action()
        .unwrap_err();
    assert_eq!(e.exit_code(), 2);
}
