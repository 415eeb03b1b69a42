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
        let Some(group) = event.group() else {
            return;
        };
        let Some(managed) = config.group(group) else {
            return;
        };
        let kicked = matches!(
            event.body,
            EventBody::MemberLeft {
                reason: LeaveReason::BotKicked,
                ..
            }
        );
        // Every event passes here: the shared read lock when nothing changes,
        // the write lock only to learn or forget an account.
        let known = {
            let groups = self.groups.read().unwrap_or_else(|e| e.into_inner());
            let accounts = groups.get(group);
            let listed = accounts.is_some_and(|a| a.contains(&event.account));
            if listed != kicked {
                Some(responder(accounts.map_or(&[][..], Vec::as_slice), managed))
            } else {
                None
            }
        };
        let responder = match known {
            Some(responder) => responder,
            None => {
                let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
                let accounts = groups.entry(group.clone()).or_default();
                if kicked {
                    accounts.retain(|a| *a != event.account);
                } else if !accounts.contains(&event.account) {
                    accounts.push(event.account.clone());
                }
                responder(accounts, managed)
            }
        };
        if let Some(responder) = responder {
            event.address_to(responder);
        }
    }
}

/// The voice of a group that `accounts` (first known first) are in: the
/// pinned account, else the first; none while fewer than two share it.
fn responder(accounts: &[Id], group: &crate::config::GroupConfig) -> Option<Id> {
    (accounts.len() > 1).then(|| group.account.clone().unwrap_or_else(|| accounts[0].clone()))
}
