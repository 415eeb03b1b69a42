//! Notices a gateway that stopped answering: after `notify.gateway_down` of
//! failed calls and no answer, the owner is told once per outage.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::Id;

#[derive(Debug, Default)]
pub struct Outages {
    /// Per account: since when calls fail, and whether the owner was told.
    down: HashMap<Id, (DateTime<Utc>, bool)>,
}

impl Outages {
    /// A call to `account`'s gateway got no answer. Returns the outage's start
    /// the first time it has lasted `threshold`: the moment to tell the owner.
    pub fn failed(
        &mut self,
        account: &Id,
        now: DateTime<Utc>,
        threshold: Duration,
    ) -> Option<DateTime<Utc>> {
        let (since, told) = self.down.entry(account.clone()).or_insert((now, false));
        let long = now - *since >= chrono::Duration::from_std(threshold).unwrap_or_default();
        if long && !*told {
            *told = true;
            return Some(*since);
        }
        None
    }

    /// The gateway answered (even with a refusal): the outage, if any, is over.
    pub fn answered(&mut self, account: &Id) {
        self.down.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_told_once_when_it_has_lasted_the_threshold_and_again_after_an_answer() {
        let mut o = Outages::default();
        let a = Id::number(1);
        let t0 = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let five = Duration::from_secs(300);
        assert_eq!(o.failed(&a, t0, five), None);
        assert_eq!(
            o.failed(&a, t0 + chrono::Duration::seconds(299), five),
            None
        );
        assert_eq!(
            o.failed(&a, t0 + chrono::Duration::seconds(300), five),
            Some(t0)
        );
        assert_eq!(
            o.failed(&a, t0 + chrono::Duration::seconds(900), five),
            None
        );
        o.answered(&a);
        let t1 = t0 + chrono::Duration::seconds(1000);
        assert_eq!(o.failed(&a, t1, five), None);
        assert_eq!(
            o.failed(&a, t1 + chrono::Duration::seconds(300), five),
            Some(t1)
        );
    }
}
