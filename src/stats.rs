//! The statistics of an A/B test on rates (reactivation: nudged arms against a
//! holdout), kept apart from the features so they are tested against published
//! values: Wilson's interval for a rate, the probability that one arm's true
//! rate beats another's (Beta posteriors from a uniform prior, exact sum), and
//! Fisher's exact test. `statrs` supplies the special functions.

use statrs::distribution::{Discrete, Hypergeometric};
use statrs::function::beta::ln_beta;

/// Successes out of trials (members reactivated out of members due).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub successes: u64,
    pub trials: u64,
}

/// Fewer trials than this in an arm, or fewer successes in all, and no arm is
/// called better: "not enough data yet".
pub const MIN_TRIALS: u64 = 30;
pub const MIN_SUCCESSES: u64 = 5;

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

impl Rate {
    pub fn new(successes: u64, trials: u64) -> Rate {
        Rate {
            successes: successes.min(trials),
            trials,
        }
    }

    pub fn failures(&self) -> u64 {
        self.trials - self.successes
    }

    /// Wilson's score interval at 95 %; `(0, 1)` with no trials.
    pub fn wilson95(&self) -> (f64, f64) {
        if self.trials == 0 {
            return (0.0, 1.0);
        }
        let n = self.trials as f64;
        let p = self.successes as f64 / n;
        let z2 = Z95 * Z95;
        let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
        let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
        ((centre - half).max(0.0), (centre + half).min(1.0))
    }
}

/// The probability that `b`'s true rate is higher than `a`'s, each rate's
/// posterior a Beta(1 + successes, 1 + failures) (uniform prior), by the exact
/// sum over `b`'s successes (Evan Miller's formula).
pub fn probability_better(a: Rate, b: Rate) -> f64 {
    let (alpha_a, beta_a) = (a.successes as f64 + 1.0, a.failures() as f64 + 1.0);
    let beta_b = b.failures() as f64 + 1.0;
    // Sum over i < alpha_b = 1 + b's successes.
    let mut total = 0.0;
    for i in 0..=b.successes {
        let i = i as f64;
        total += (ln_beta(alpha_a + i, beta_a + beta_b)
            - (beta_b + i).ln()
            - ln_beta(1.0 + i, beta_b)
            - ln_beta(alpha_a, beta_a))
        .exp();
    }
    total.clamp(0.0, 1.0)
}

/// Fisher's exact test on the 2×2 table of two arms' successes and failures:
/// the two-sided p (the tables at most as likely as the one observed).
pub fn fisher_two_sided(a: Rate, b: Rate) -> f64 {
    let population = a.trials + b.trials;
    let successes = a.successes + b.successes;
    let Ok(table) = Hypergeometric::new(population, successes, a.trials) else {
        return 1.0;
    };
    let observed = table.pmf(a.successes);
    let low = a.trials.saturating_sub(population - successes);
    let high = a.trials.min(successes);
    let p: f64 = (low..=high)
        .map(|x| table.pmf(x))
        .filter(|&px| px <= observed * (1.0 + 1e-7))
        .sum();
    p.min(1.0)
}

/// Whether two arms hold enough to name a winner.
pub fn enough_data(a: Rate, b: Rate) -> bool {
    a.trials >= MIN_TRIALS && b.trials >= MIN_TRIALS && a.successes + b.successes >= MIN_SUCCESSES
}

/// The arm that is never treated: the baseline every variant is measured against.
pub const HOLDOUT: &str = "holdout";

/// How arm `a` stands against arm `b`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// The probability that `a`'s true rate is higher than `b`'s.
    pub probability_better: f64,
    pub fisher_p: f64,
}

/// `a` against `b`, or `None` while there is not enough data to say.
pub fn compare(a: Rate, b: Rate) -> Option<Comparison> {
    enough_data(a, b).then(|| Comparison {
        probability_better: probability_better(b, a),
        fisher_p: fisher_two_sided(a, b),
    })
}

/// The pairs worth comparing among `arms`: each variant against the holdout,
/// then the variants against each other.
pub fn pairs<'a>(arms: impl IntoIterator<Item = &'a String>) -> Vec<(&'a String, &'a String)> {
    let arms: Vec<&String> = arms.into_iter().collect();
    let variants: Vec<&String> = arms.iter().copied().filter(|a| *a != HOLDOUT).collect();
    let mut pairs = Vec::new();
    if let Some(h) = arms.iter().find(|a| **a == HOLDOUT) {
        pairs.extend(variants.iter().map(|v| (*v, *h)));
    }
    for (i, a) in variants.iter().enumerate() {
        for b in &variants[i + 1..] {
            pairs.push((*a, *b));
        }
    }
    pairs
}

/// What the shop reads for an arm: 对照组 for the holdout, 方案 NAME for a variant.
pub fn arm_label(arm: &str) -> String {
    if arm == HOLDOUT {
        "对照组".to_string()
    } else {
        format!("方案 {arm}")
    }
}

/// One line on `a` against `b`, in the shop's language.
pub fn verdict_text(a: &str, b: &str, comparison: Option<Comparison>) -> String {
    let (a, b) = (arm_label(a), arm_label(b));
    match comparison {
        None => format!(
            "{a} 对比 {b}：数据不足，暂无结论（每组至少 {MIN_TRIALS} 人已结束、合计至少 {MIN_SUCCESSES} 人唤醒才下结论）"
        ),
        Some(c) => format!(
            "{a} 对比 {b}：{a} 更好的概率 {:.1}%，精确检验 p = {:.3}",
            c.probability_better * 100.0,
            c.fisher_p
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn wilson_matches_published_intervals() {
        // Wilson (1927) as tabulated by Newcombe (1998), Table I: 0/10, 1/10, 81/263.
        let (lo, hi) = Rate::new(0, 10).wilson95();
        assert!(close(lo, 0.0, 1e-4) && close(hi, 0.2775, 1e-4), "{lo} {hi}");
        let (lo, hi) = Rate::new(1, 10).wilson95();
        assert!(
            close(lo, 0.0179, 1e-4) && close(hi, 0.4042, 1e-4),
            "{lo} {hi}"
        );
        let (lo, hi) = Rate::new(81, 263).wilson95();
        assert!(
            close(lo, 0.2553, 1e-4) && close(hi, 0.3662, 1e-4),
            "{lo} {hi}"
        );
    }

    #[test]
    fn fisher_matches_the_lady_tasting_tea() {
        // Fisher (1935): 3 of 4 cups right each way; two-sided p = 34/70.
        let p = fisher_two_sided(Rate::new(3, 4), Rate::new(1, 4));
        assert!(close(p, 34.0 / 70.0, 1e-9), "{p}");
        let p = fisher_two_sided(Rate::new(4, 4), Rate::new(0, 4));
        assert!(close(p, 2.0 / 70.0, 1e-9), "{p}");
    }

    #[test]
    fn probability_better_matches_closed_forms() {
        // Equal evidence: one half.
        assert!(close(
            probability_better(Rate::new(7, 40), Rate::new(7, 40)),
            0.5,
            1e-9
        ));
        // Beta(2,1) against the uniform Beta(1,1): ∫ 2x · x dx = 2/3.
        assert!(close(
            probability_better(Rate::new(0, 0), Rate::new(1, 1)),
            2.0 / 3.0,
            1e-9
        ));
        // And the reverse.
        assert!(close(
            probability_better(Rate::new(1, 1), Rate::new(0, 0)),
            1.0 / 3.0,
            1e-9
        ));
    }

    #[test]
    fn probability_better_follows_the_evidence() {
        let holdout = Rate::new(10, 100);
        let nudged = Rate::new(25, 100);
        let p = probability_better(holdout, nudged);
        assert!(p > 0.99, "{p}");
        assert!(close(probability_better(nudged, holdout), 1.0 - p, 1e-9));
    }

    #[test]
    fn small_arms_are_not_enough_data() {
        assert!(!enough_data(Rate::new(3, 29), Rate::new(9, 40)));
        assert!(!enough_data(Rate::new(1, 40), Rate::new(3, 40)));
        assert!(enough_data(Rate::new(2, 30), Rate::new(3, 30)));
    }
}
