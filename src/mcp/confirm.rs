//! Asking the person to confirm a budget above the ceiling, once, for that call.
//!
//! Up to 2025-11-25 the server asks with an `elicitation/create` request while
//! the call waits. From 2026-07-28 a server sends no requests: the call answers
//! with an input-required result that carries the same elicitation, and the
//! client calls again with the person's answer (`inputResponses`) and the
//! `requestState` it was given. Clients that declare no form elicitation are not
//! asked: they get the core's refusal, which names the setting.

use rmcp::{
    RoleServer,
    model::{
        CallToolResponse, CallToolResult, ClientCapabilities, ContentBlock, ElicitRequest,
        ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema, InputRequest,
        InputRequests, InputRequiredResult, InputResponses, ProtocolVersion,
    },
    service::RequestContext,
};

use super::HandingerServer;
use crate::{budget::Budget, delegation::BudgetCheck, tools::ToolCall};

/// The key of the confirmation among a call's input requests and responses.
const CONFIRMATION: &str = "confirm_budget";

/// What a retried call brings back (2026-07-28 and later).
#[derive(Debug, Default)]
pub struct Answers {
    pub input_responses: Option<InputResponses>,
    pub request_state: Option<String>,
}

impl HandingerServer {
    /// A budget above the ceiling: ask the person, where the client can.
    /// `None`: go on (within the ceiling, confirmed, or not askable: the core
    /// then refuses). Otherwise the response to give now: the question (an
    /// input-required result) or the result that says nothing was sent.
    pub(super) async fn confirm_budget(
        &self,
        call: &mut ToolCall,
        answers: Answers,
        context: &RequestContext<RoleServer>,
    ) -> Option<CallToolResponse> {
        let runner = self.runner_for(context).ok()?;
        let BudgetCheck::Above { asked, max } = runner.check_budget(call.budget()) else {
            return None;
        };
        if !call.starts_work()
            || !context
                .client_capabilities()
                .is_some_and(|c| asks_forms(&c))
        {
            return None;
        }
        let question = question(asked, max);
        let answer = if context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
        {
            match answer_given(answers, asked) {
                Some(answer) => answer,
                None => return Some(ask_in_result(question, asked).into()),
            }
        } else {
            match context.peer.create_elicitation(question).await {
                Ok(answer) => answer,
                Err(error) => {
                    tracing::warn!(%error, "the budget confirmation could not be asked");
                    return None;
                }
            }
        };
        let confirmed = answer.action == ElicitationAction::Accept
            && answer
                .content
                .as_ref()
                .and_then(|c| c.get("confirm"))
                .and_then(serde_json::Value::as_bool)
                == Some(true);
        if confirmed {
            call.confirm_budget();
            return None;
        }
        let how = match answer.action {
            ElicitationAction::Decline => "declined",
            ElicitationAction::Cancel => "cancelled",
            _ => "not confirmed",
        };
        Some(
            CallToolResult::error(vec![ContentBlock::text(format!(
                "Not sent: budget {} (above this server's ceiling, {}) was {how} by the user. \
                 Nothing was sent; call again with budget {} or less.",
                asked.as_str(),
                max.as_str(),
                max.as_str()
            ))])
            .into(),
        )
    }
}

/// Whether a client declares form elicitation (a bare `elicitation: {}` means
/// form, as before modes existed).
fn asks_forms(capabilities: &ClientCapabilities) -> bool {
    capabilities
        .elicitation
        .as_ref()
        .is_some_and(|e| e.form.is_some() || e.url.is_none())
}

/// The question put to the person: one yes/no field.
fn question(asked: Budget, max: Budget) -> ElicitRequestParams {
    let schema = ElicitationSchema::builder()
        .required_bool("confirm")
        .build()
        .expect("a one-field schema builds");
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: format!(
            "This call asks a Handinger worker for budget {}, above this server's ceiling ({}). \
             Higher budgets can cost many more credits. Send it with budget {}?",
            asked.as_str(),
            max.as_str(),
            asked.as_str()
        ),
        requested_schema: schema,
    }
}

/// The state that ties an answer to the budget it was asked about: a retry that
/// asks for another budget is asked again. It needs no integrity: it only
/// names the budget, and the person who answers is on the client's side.
fn request_state(asked: Budget) -> String {
    format!("budget-confirmation:{}", asked.as_str())
}

/// The question as an input-required result (2026-07-28 and later).
fn ask_in_result(question: ElicitRequestParams, asked: Budget) -> InputRequiredResult {
    let mut requests = InputRequests::new();
    requests.insert(
        CONFIRMATION.to_owned(),
        InputRequest::Elicitation(ElicitRequest::new(question)),
    );
    InputRequiredResult::new(Some(requests), Some(request_state(asked)))
}

/// The person's answer in a retried call, when it answers this question.
fn answer_given(answers: Answers, asked: Budget) -> Option<ElicitResult> {
    if answers.request_state.as_deref() != Some(request_state(asked).as_str()) {
        return None;
    }
    let answer = answers.input_responses?.remove(CONFIRMATION)?;
    serde_json::from_value(answer)
        .inspect_err(|error| tracing::warn!(%error, "a budget confirmation that is not an answer"))
        .ok()
}
