//! Readership counts, kept in memory between flushes (`docs/SECURITY.md#readership`): per share
//! and UTC day, views by how the reader got in and the day's reader hashes. A reader hash is 16
//! bytes of HMAC-SHA256, keyed by the day's salt, of the client's address and user agent; the
//! salt is derived from the first cookie key and the date, in memory only, so every instance
//! derives the same one and none is ever written.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ShareId;
use super::signing::{Purpose, SigningKey};

type HmacSha256 = Hmac<Sha256>;

/// How a reader got in, for one view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The share has no password.
    Open,
    /// The password, just entered (the first view after the form).
    Password,
    /// An unlock token in the URL.
    Unlock,
    /// The share cookie of an earlier password or unlock token.
    Cookie,
}

impl Access {
    pub const ALL: [Access; 4] = [Self::Open, Self::Password, Self::Unlock, Self::Cookie];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Password => "password",
            Self::Unlock => "unlock",
            Self::Cookie => "cookie",
        }
    }
}

/// A reader of one day, as stored: nothing of the address or user agent can be read back from
/// it once the day's salt is gone.
pub type ReaderHash = [u8; 16];

/// A share's day: views by [`Access`] (in the order of [`Access::ALL`]) and its readers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub views: [i64; 4],
    pub readers: HashSet<ReaderHash>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        for (mine, theirs) in self.views.iter_mut().zip(other.views) {
            *mine += theirs;
        }
        self.readers.extend(other.readers);
    }
}

/// Counts not written yet, per share and day.
pub type Pending = HashMap<(ShareId, NaiveDate), Tally>;

pub struct Readership {
    key: SigningKey,
    /// The salt of the last day a view was counted on, keyed into an HMAC.
    salt: Mutex<(NaiveDate, HmacSha256)>,
    pending: Mutex<Pending>,
}

fn day_salt(key: &SigningKey, day: NaiveDate) -> HmacSha256 {
    let date = day.format("%Y-%m-%d").to_string();
    let salt = key.tag(Purpose::ReaderSalt, &[date.as_bytes()]);
    HmacSha256::new_from_slice(&salt).expect("HMAC takes keys of any length")
}

/// A panic elsewhere while holding a lock leaves counts that are still counts.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Readership {
    /// Counting with salts derived from `key` (its first key: the one that signs).
    pub fn new(key: SigningKey) -> Self {
        let epoch = NaiveDate::default();
        Self {
            salt: Mutex::new((epoch, day_salt(&key, epoch))),
            key,
            pending: Mutex::default(),
        }
    }

    /// The reader's hash on `day`: one HMAC, the day's salt cloned out of its lock (no
    /// allocation; a new salt is derived once a day).
    pub fn reader(&self, day: NaiveDate, client: Option<IpAddr>, user_agent: &[u8]) -> ReaderHash {
        let mut mac = {
            let mut salt = locked(&self.salt);
            if salt.0 != day {
                *salt = (day, day_salt(&self.key, day));
            }
            salt.1.clone()
        };
        // The address's kind and length first: no address and user agent hash as another pair.
        match client {
            Some(IpAddr::V4(v4)) => {
                mac.update(&[4]);
                mac.update(&v4.octets());
            }
            Some(IpAddr::V6(v6)) => {
                mac.update(&[6]);
                mac.update(&v6.octets());
            }
            None => mac.update(&[0]),
        }
        mac.update(&[0]);
        mac.update(user_agent);
        let digest = mac.finalize().into_bytes();
        let mut reader = [0; 16];
        reader.copy_from_slice(&digest[..16]);
        reader
    }

    /// Count one view of `share` on `day`.
    pub fn record(&self, share: ShareId, day: NaiveDate, access: Access, reader: ReaderHash) {
        let mut pending = locked(&self.pending);
        let tally = pending.entry((share, day)).or_default();
        tally.views[access as usize] += 1;
        tally.readers.insert(reader);
    }

    /// Everything counted since the last take, to be written; the lock is held for a swap only.
    pub fn take(&self) -> Pending {
        std::mem::take(&mut *locked(&self.pending))
    }

    /// Put back counts that could not be written, for the next try.
    pub fn restore(&self, unwritten: Pending) {
        let mut pending = locked(&self.pending);
        for (key, tally) in unwritten {
            pending.entry(key).or_default().add(tally);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    #[test]
    fn reader_hashes_depend_on_day_key_address_and_agent() {
        let counting = Readership::new(SigningKey::new(&[1; 32]));
        let v4 = Some("203.0.113.9".parse().unwrap());
        let base = counting.reader(day(7), v4, b"Firefox");
        let cases: [(&str, ReaderHash); 6] = [
            ("next day", counting.reader(day(8), v4, b"Firefox")),
            (
                "other key",
                Readership::new(SigningKey::new(&[2; 32])).reader(day(7), v4, b"Firefox"),
            ),
            (
                "other address",
                counting.reader(day(7), Some("203.0.113.10".parse().unwrap()), b"Firefox"),
            ),
            ("other agent", counting.reader(day(7), v4, b"Chrome")),
            ("no address", counting.reader(day(7), None, b"Firefox")),
            (
                "IPv6",
                counting.reader(day(7), Some("2001:db8::".parse().unwrap()), b"Firefox"),
            ),
        ];
        for (what, other) in cases {
            assert_ne!(base, other, "{what}");
        }
        assert_eq!(
            counting.reader(day(7), v4, b"Firefox"),
            base,
            "same day, same reader"
        );
        let later = counting.reader(day(8), v4, b"Firefox");
        assert_eq!(counting.reader(day(7), v4, b"Firefox"), base, "day 7 again");
        assert_eq!(counting.reader(day(8), v4, b"Firefox"), later);
    }

    #[test]
    fn the_salt_follows_the_first_cookie_key() {
        let (old, new) = ([1; 32], [2; 32]);
        let v4 = Some("203.0.113.9".parse().unwrap());
        let reader = |key: SigningKey| Readership::new(key).reader(day(7), v4, b"Firefox");
        let rotated = reader(SigningKey::with_older(&new, &[old.to_vec()]));
        assert_eq!(
            rotated,
            reader(SigningKey::new(&new)),
            "the first key decides"
        );
        assert_ne!(
            rotated,
            reader(SigningKey::new(&old)),
            "a reader of the day before the rotation is new after it"
        );
    }

    #[test]
    fn views_add_up_per_share_day_and_access_and_survive_a_failed_write() {
        let counting = Readership::new(SigningKey::new(&[1; 32]));
        let share = ShareId::new();
        let (a, b) = ([1; 16], [2; 16]);
        counting.record(share, day(7), Access::Open, a);
        counting.record(share, day(7), Access::Open, a);
        counting.record(share, day(7), Access::Cookie, b);
        counting.record(share, day(8), Access::Unlock, a);
        let taken = counting.take();
        assert!(counting.take().is_empty(), "taken once");
        assert_eq!(taken[&(share, day(7))].views, [2, 0, 0, 1]);
        assert_eq!(taken[&(share, day(7))].readers, HashSet::from([a, b]));
        assert_eq!(taken[&(share, day(8))].views, [0, 0, 1, 0]);

        counting.record(share, day(7), Access::Password, b);
        counting.restore(taken);
        let again = counting.take();
        assert_eq!(again[&(share, day(7))].views, [2, 1, 0, 1]);
        assert_eq!(again[&(share, day(7))].readers, HashSet::from([a, b]));
        assert_eq!(again[&(share, day(8))].views, [0, 0, 1, 0]);
    }
}
