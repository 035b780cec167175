//! Rate limits on starting e-CPS logins and enrolments, per national id and per source
//! address: a fixed window per key, in memory, bounded in size, on the injected clock.

use std::collections::HashMap;
use std::sync::Mutex;

/// How many attempts a key may make per window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    /// Attempts allowed per window.
    pub max: u32,
    /// The window, in seconds.
    pub window: i64,
}

impl Rule {
    /// `max` attempts a minute.
    pub(crate) fn per_minute(max: u32) -> Self {
        Rule { max, window: 60 }
    }
}

/// Keys kept at most; when full, finished windows are dropped, then, if still full, the
/// whole table (a burst of distinct keys cannot grow memory without bound).
const MAX_KEYS: usize = 50_000;

/// The windows of every key seen recently.
#[derive(Default)]
pub(crate) struct Limiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl Limiter {
    /// Counts an attempt of `key` at `now` under `rule`; `Err(seconds)` to wait when over.
    pub(crate) fn hit(&self, key: &str, rule: Rule, now: i64) -> Result<(), i64> {
        let Ok(mut w) = self.windows.lock() else {
            return Ok(());
        };
        if w.len() >= MAX_KEYS && !w.contains_key(key) {
            w.retain(|_, (start, _)| now < *start + rule.window);
            if w.len() >= MAX_KEYS {
                w.clear();
            }
        }
        let entry = w.entry(key.to_owned()).or_insert((now, 0));
        if now >= entry.0 + rule.window {
            *entry = (now, 0);
        }
        if entry.1 >= rule.max {
            return Err((entry.0 + rule.window - now).max(1));
        }
        entry.1 += 1;
        Ok(())
    }

    /// Keys held (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.windows.lock().map(|w| w.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule { max: 2, window: 60 };

    #[test]
    fn a_key_is_held_back_until_its_window_ends() {
        let l = Limiter::default();
        assert_eq!(l.hit("a", RULE, 1000), Ok(()));
        assert_eq!(l.hit("a", RULE, 1010), Ok(()));
        assert_eq!(l.hit("a", RULE, 1020), Err(40));
        assert_eq!(l.hit("b", RULE, 1020), Ok(()), "other keys are free");
        assert_eq!(l.hit("a", RULE, 1059), Err(1));
        assert_eq!(l.hit("a", RULE, 1060), Ok(()));
    }

    #[test]
    fn the_table_stays_bounded() {
        let l = Limiter::default();
        for i in 0..(MAX_KEYS + 10) {
            let _ = l.hit(&i.to_string(), RULE, 0);
        }
        assert!(l.len() <= MAX_KEYS);
    }
}
