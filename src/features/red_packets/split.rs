//! Cutting a packet into shares.

use rand::seq::SliceRandom;
use rand::Rng;

use crate::config::SplitMethod;

/// Cuts `total` points into `shares` whole shares, each ≥ 1, summing to
/// `total`, in random order. `shares` must be 1..=total.
pub fn split(total: u32, shares: u32, method: SplitMethod, rng: &mut impl Rng) -> Vec<u32> {
    let shares = shares.clamp(1, total.max(1));
    let mut out = match method {
        SplitMethod::DoubleMean => {
            let mut left = total;
            let mut out = Vec::with_capacity(shares as usize);
            for n in (2..=shares).rev() {
                // Uniform from 1 to twice the mean of what is left, leaving at
                // least one point for each share still to draw.
                let most = (2 * left / n).min(left - (n - 1)).max(1);
                let share = rng.random_range(1..=most);
                out.push(share);
                left -= share;
            }
            out.push(left);
            out
        }
        SplitMethod::Fair => {
            // shares − 1 distinct cuts among the total − 1 places between points.
            let mut cuts: Vec<u32> =
                rand::seq::index::sample(rng, (total - 1) as usize, (shares - 1) as usize)
                    .into_iter()
                    .map(|c| c as u32 + 1)
                    .collect();
            cuts.sort_unstable();
            let mut out = Vec::with_capacity(shares as usize);
            let mut last = 0;
            for cut in cuts.into_iter().chain(std::iter::once(total)) {
                out.push(cut - last);
                last = cut;
            }
            out
        }
    };
    out.shuffle(rng);
    out
}
