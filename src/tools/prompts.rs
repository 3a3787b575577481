//! The prompts: slash commands a host offers its user, each one a brief that
//! leads the model to a tool. Like the tools, each is one entry here; the MCP
//! front-end lists and renders them.

use std::collections::HashMap;

/// One argument of a prompt.
#[derive(Debug, Clone, Copy)]
pub struct PromptArg {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
}

/// One prompt.
#[derive(Debug, Clone, Copy)]
pub struct PromptSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub arguments: &'static [PromptArg],
    /// The argument naming a task whose latest answer is embedded before the
    /// text (as a resource), if any.
    pub embeds_task: Option<&'static str>,
    /// The user message, from the arguments (every required one present).
    pub render: fn(&HashMap<String, String>) -> String,
}

/// An argument's value, or empty.
fn arg<'a>(args: &'a HashMap<String, String>, name: &str) -> &'a str {
    args.get(name).map_or("", |v| v.trim())
}

/// The prompts, in the order they are listed.
pub const PROMPTS: &[PromptSpec] = &[
    PromptSpec {
        name: "delegate",
        title: "Delegate to a Handinger worker",
        description: "Write a complete brief from a goal, its context and the deliverable, and \
            hand it to a Handinger worker with create_task.",
        arguments: &[
            PromptArg {
                name: "goal",
                description: "What the worker should achieve.",
                required: true,
            },
            PromptArg {
                name: "context",
                description: "What the worker needs to know: background, constraints, sources \
                    to use or avoid.",
                required: false,
            },
            PromptArg {
                name: "deliverable",
                description: "The form of the answer: a table, a memo, a file...",
                required: false,
            },
        ],
        embeds_task: None,
        render: |args| {
            let mut brief = format!("## Goal\n{}\n", arg(args, "goal"));
            for (heading, name) in [("Context", "context"), ("Deliverable", "deliverable")] {
                let value = arg(args, name);
                if !value.is_empty() {
                    brief.push_str(&format!("\n## {heading}\n{value}\n"));
                }
            }
            format!(
                "Hand this to a Handinger worker: call the create_task tool with the brief \
                 below as its `input`. The worker sees nothing but the brief, so add anything \
                 from our conversation it needs, keeping the headings. When the result says \
                 the task is still running, call get_task with its taskId.\n\n{brief}"
            )
        },
    },
    PromptSpec {
        name: "follow_up",
        title: "Follow up on a Handinger task",
        description: "Send a follow-up message in an earlier task, with its context, through \
            follow_up_task.",
        arguments: &[
            PromptArg {
                name: "taskId",
                description: "The taskId of the earlier task (tsk_...).",
                required: true,
            },
            PromptArg {
                name: "message",
                description: "The follow-up: a question, a correction or the next step.",
                required: true,
            },
        ],
        embeds_task: None,
        render: |args| {
            format!(
                "Call the follow_up_task tool with taskId \"{}\" and this as its `input`:\n\n{}",
                arg(args, "taskId"),
                arg(args, "message")
            )
        },
    },
    PromptSpec {
        name: "review_task",
        title: "Review a Handinger task's answer",
        description: "Bring a task's latest answer into the conversation and check it: \
            correctness, completeness, support from its sources.",
        arguments: &[PromptArg {
            name: "taskId",
            description: "The taskId of the task to review (tsk_...).",
            required: true,
        }],
        embeds_task: Some("taskId"),
        render: |args| {
            format!(
                "Above is the latest answer of Handinger task {}. Check it: is it correct, \
                 complete, and supported by the sources it cites? List what is wrong or \
                 missing. If it needs more work, say what to ask, and offer to send it with \
                 follow_up_task.",
                arg(args, "taskId")
            )
        },
    },
];

/// The entry named `name`.
pub fn prompt(name: &str) -> Option<&'static PromptSpec> {
    PROMPTS.iter().find(|p| p.name == name)
}

/// The required arguments `args` lacks (or has empty).
pub fn missing(spec: &PromptSpec, args: &HashMap<String, String>) -> Vec<&'static str> {
    spec.arguments
        .iter()
        .filter(|a| a.required && arg(args, a.name).is_empty())
        .map(|a| a.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_render_their_arguments_and_name_real_tools() {
        let args: HashMap<String, String> = [
            ("goal".to_owned(), "Compare three CRMs".to_owned()),
            ("deliverable".to_owned(), "A table".to_owned()),
        ]
        .into();
        let delegate = prompt("delegate").unwrap();
        assert!(missing(delegate, &args).is_empty());
        let text = (delegate.render)(&args);
        assert!(text.contains("## Goal\nCompare three CRMs") && text.contains("## Deliverable"));
        assert!(!text.contains("## Context"), "an empty section is left out");
        assert_eq!(
            missing(prompt("follow_up").unwrap(), &args),
            ["taskId", "message"]
        );
        for spec in PROMPTS {
            let text = (spec.render)(&args);
            for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                if word.ends_with("_task") {
                    assert!(
                        super::super::by_name(word).is_some(),
                        "{word} is not a tool"
                    );
                }
            }
        }
    }
}
