//! Which of the shop's accounts are in which group, as intake needs it: in a
//! group several accounts are in, every account sees each message, and each
//! copy must be logged and handled once. Intake addresses every copy to the
//! group's responder (the pinned `[[groups]] account`, else the account known
//! there first) and keys it by content ([`Event::address_to`]), so the first
//! copy is taken and the others are recognised as the same event.
//!
//! The account sync keeps this current; at start it is read back from what the
//! [`accounts`](crate::features::accounts) feature recorded, which follows the
//! same rule, so intake and the features agree on each group's voice.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::domain::{Event, EventBody, Id, LeaveReason, ListedGroup};

#[derive(Clone, Default)]
pub struct Voices {
    /// Accounts per group, first known first.
    groups: Arc<RwLock<HashMap<Id, Vec<Id>>>>,
}

impl Voices {
    /// Voices read back at start: each group's accounts, first known first.
    pub fn from_groups(groups: impl IntoIterator<Item = (Id, Vec<Id>)>) -> Voices {
        Voices {
            groups: Arc::new(RwLock::new(groups.into_iter().collect())),
        }
    }

    /// What a sync said: `account` is in `listed` and in no other group.
    pub fn synced(&self, account: &Id, listed: &[ListedGroup]) {
        let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
        for (group, accounts) in groups.iter_mut() {
            if !listed.iter().any(|l| &l.group == group) {
                accounts.retain(|a| a != account);
            }
        }
        for l in listed {
            let accounts = groups.entry(l.group.clone()).or_default();
            if !accounts.contains(account) {
                accounts.push(account.clone());
            }
        }
        groups.retain(|_, accounts| !accounts.is_empty());
    }

    /// Addresses `event` to its group's responder when several of the shop's
    /// accounts are in that managed group. An account heard from a managed
    /// group is known to be in it from then on (a sync may come later); one
    /// removed from it is not.
    pub fn address(&self, event: &mut Event, config: &Config) {
        let Some(group) = event.group().cloned() else {
            return;
        };
        let Some(managed) = config.group(&group) else {
            return;
        };
        let responder = {
            let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
            let accounts = groups.entry(group.clone()).or_default();
            if matches!(
                event.body,
                EventBody::MemberLeft {
                    reason: LeaveReason::BotKicked,
                    ..
                }
            ) {
                accounts.retain(|a| *a != event.account);
            } else if !accounts.contains(&event.account) {
                accounts.push(event.account.clone());
            }
            if accounts.len() < 2 {
                return;
            }
            managed
                .account
                .clone()
                .unwrap_or_else(|| accounts[0].clone())
        };
        event.address_to(responder);
    }
}
