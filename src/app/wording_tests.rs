//! Each front-end words the core's next steps in its own terms, naming only what
//! it offers: MCP its tools, the LSP-style mode its commands, the command line
//! shell lines.

use crate::{
    cli::CliWording,
    delegation::NextStep,
    lsp::LspWording,
    mcp::McpWording,
    tools::{TOOLS, Wording},
};

fn every_step() -> Vec<NextStep> {
    let task_id = "tsk_abc".to_owned();
    vec![
        NextStep::None,
        NextStep::FollowUp {
            task_id: task_id.clone(),
        },
        NextStep::Fetch {
            task_id: task_id.clone(),
        },
        NextStep::FetchThenFollowUp {
            task_id: task_id.clone(),
        },
        NextStep::StartNew,
        NextStep::StartNewOrFollowUp { task_id },
        NextStep::FixKey,
    ]
}

#[test]
fn every_next_step_names_only_its_front_ends_tools() {
    let front_ends: [(&str, &dyn Wording); 3] = [
        ("mcp", &McpWording),
        ("lsp", &LspWording),
        ("cli", &CliWording),
    ];
    for step in every_step() {
        for (front_end, wording) in front_ends {
            let text = wording.word(&step);
            for tool in TOOLS {
                let names = [
                    ("mcp", tool.name.to_owned()),
                    ("lsp", tool.lsp_command.to_owned()),
                    ("cli", format!("handinger-mcp {}", tool.cli_verb)),
                ];
                for (owner, name) in names {
                    if owner != front_end {
                        assert!(!text.contains(&name), "{front_end} {step:?}: {text}");
                    }
                }
            }
            assert_eq!(
                text.contains("MCP host"),
                front_end == "mcp" && step == NextStep::FixKey,
                "{text}"
            );
            if let NextStep::Fetch { .. } = step {
                let expected = match front_end {
                    "mcp" => "call get_task with taskId \"tsk_abc\"",
                    "lsp" => "run the command handinger.getTask with {\"taskId\": \"tsk_abc\"}",
                    _ => "run `handinger-mcp get tsk_abc`",
                };
                assert!(text.contains(expected), "{text}");
            }
        }
    }
}

/// The core's messages name no flag or variable; each front-end adds the
/// setting's names and where it is set in its own terms.
#[test]
fn the_core_names_no_setting_and_each_front_end_words_it() {
    use crate::delegation::{TaskError, TaskFailure, TaskKind};
    let error = TaskError {
        task_id: None,
        kind: TaskKind::New,
        failure: TaskFailure::TooManyRunning { limit: 3 },
    };
    let core = error.to_string();
    assert!(
        !core.contains("--") && !core.contains("HANDINGER_"),
        "{core}"
    );
    let cases: [(&dyn Wording, &str); 3] = [
        (&McpWording, "\"env\" block"),
        (&LspWording, "your editor starts"),
        (&CliWording, "in your shell"),
    ];
    for (wording, place) in cases {
        let text = wording.describe(&error);
        assert!(text.starts_with(&core), "{text}");
        for needle in ["--max-in-flight", "HANDINGER_MAX_IN_FLIGHT", place] {
            assert!(text.contains(needle), "{needle:?} not in {text}");
        }
    }
}
