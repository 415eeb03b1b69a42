//! Keys of members and groups: every piece of state is per bot account, so the
//! account is part of every key.

use serde::{Deserialize, Serialize};

use super::Id;

/// One member of one group, on one bot account.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MemberKey {
    pub account: Id,
    pub group: Id,
    pub user: Id,
}

/// One group, on one bot account.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupKey {
    pub account: Id,
    pub group: Id,
}

impl MemberKey {
    pub fn new(account: &Id, group: &Id, user: &Id) -> Self {
        MemberKey {
            account: account.clone(),
            group: group.clone(),
            user: user.clone(),
        }
    }

    pub fn group_key(&self) -> GroupKey {
        GroupKey {
            account: self.account.clone(),
            group: self.group.clone(),
        }
    }
}
