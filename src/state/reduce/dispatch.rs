//! Dispatch-policy and provider-throttling events: a subtask's own policy, a subtask that
//! asks a person before it starts, and the endpoints the provider layer is throttling.

use crate::state::*;

/// Folds one dispatch event; other events are not this family's and change nothing here.
pub(super) fn apply(state: &mut State, event: &Event) {
    match event {
        Event::DispatchPolicySet { id, policy, .. } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.dispatch = Some(*policy);
                if s.asked && *policy != DispatchPolicy::Ask {
                    // It no longer waits for a go-ahead: back to the queue (it was approved).
                    s.asked = false;
                    if s.status == SubtaskStatus::AwaitingApproval {
                        s.status = SubtaskStatus::Ready;
                    }
                }
                if *policy != DispatchPolicy::Ask {
                    s.go = false;
                }
            }
        }
        Event::DispatchAsked { id } => {
            if let Some(s) = state.subtask_mut(*id)
                && s.status == SubtaskStatus::Ready
            {
                s.status = SubtaskStatus::AwaitingApproval;
                s.asked = true;
            }
        }
        Event::ProviderThrottled { notice } => {
            if notice.active {
                state
                    .throttled
                    .insert(notice.endpoint.clone(), notice.clone());
            } else {
                state.throttled.remove(&notice.endpoint);
            }
        }
        _ => {}
    }
}
