//! Password hashing with argon2id, off the async workers and bounded.
//!
//! One verification takes tens of milliseconds of CPU and 19 MiB of memory.
//! Run on the async workers, a burst of sign-ins would stall every other
//! request, token checks included; unbounded, it would take all the memory.
//! So hashes run on a fixed set of threads, one per allowed concurrent hash,
//! behind a bounded queue: past it, callers get [`HashError::Overloaded`]
//! (503) at once instead of waiting without limit.
//!
//! Each thread keeps its 19 MiB block buffer between hashes (a fresh mapping
//! per hash costs page faults on every call) and runs at a lower scheduling
//! priority than the async workers, so that while both want the CPU the
//! cheap requests go first and a sign-in flood cannot stretch their latency.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OnceCell, oneshot};

use crate::config::HashingConfig;
use crate::domain::{Password, SessionId};

/// OWASP's minimum for argon2id: m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// A stored hash asking for more memory than this (1 GiB) is refused rather
/// than allowed to take the machine's memory.
const MAX_MEMORY_KIB: u32 = 1024 * 1024;

/// How much less CPU priority the hashing threads get (nice value, 0–19).
/// At 10 a busy async worker gets about ten times the CPU of a hashing thread
/// on the same core, yet sign-ins still progress under load.
#[cfg(target_os = "linux")]
const HASHING_NICENESS: i32 = 10;

/// A hashing thread that has had no work for this long gives its 19 MiB
/// block buffer back: kept while sign-ins keep coming (a fresh mapping per
/// hash costs page faults), not held for hours after a burst.
const IDLE_RELEASE: Duration = Duration::from_secs(30);

/// Why hashing did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many hashes are running or waiting; try again shortly.
    #[error("password hashing is at capacity")]
    Overloaded,
    /// The random source or the hashing thread failed.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The outcome of checking a password.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// The password is wrong, or there was no such user.
    No,
    /// The password is right.
    Yes,
    /// The password is right and the stored hash uses weaker parameters than
    /// today's: here is a new hash to store.
    YesRehashed(String),
}

/// A cheap handle to the shared hasher.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

/// Work for a hashing thread, given that thread's block buffer.
type Job = Box<dyn FnOnce(&mut Workspace) + Send>;

#[derive(Debug)]
struct Inner {
    /// Where jobs wait for a hashing thread. Dropping it (with the last
    /// handle) lets the threads finish and exit.
    jobs: Mutex<mpsc::Sender<Job>>,
    /// Hashes running or waiting, to shed load past `limit`.
    in_flight: Arc<AtomicUsize>,
    /// argon2 computations finished, hashes and verifications alike: lets a
    /// test prove that every sign-in path does the same work.
    completed: Arc<AtomicU64>,
    limit: usize,
    /// A hash of a random password, verified against when the user does not
    /// exist so that "no such user" costs the same as "wrong password".
    dummy: OnceCell<String>,
    /// The sessions that hold a [`Share`] now: one each at most.
    shared: Arc<Mutex<HashSet<SessionId>>>,
}

/// Counts a job as in flight from submission until it has run (or been
/// dropped unrun), whether or not its caller still waits for it.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordHasher {
    /// A hasher with the given capacity: `concurrency` threads, and as many
    /// more jobs waiting as `queue` allows.
    pub fn new(config: HashingConfig) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..config.concurrency {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || hashing_thread(&receiver));
            if let Err(e) = spawned {
                // Fewer threads only means less throughput; none at all is
                // reported by every hash as a failure.
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Self {
            inner: Arc::new(Inner {
                jobs: Mutex::new(sender),
                in_flight: Arc::new(AtomicUsize::new(0)),
                completed: Arc::new(AtomicU64::new(0)),
                limit: config.concurrency + config.queue,
                dummy: OnceCell::new(),
                shared: Arc::default(),
            }),
        }
    }

    /// Hashes waiting for a thread or running now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// argon2 computations finished since start.
    pub fn completed(&self) -> u64 {
        self.inner.completed.load(Ordering::SeqCst)
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.hash_holding(password, None).await
    }

    async fn hash_holding(
        &self,
        password: Password,
        hold: Option<Arc<Slot>>,
    ) -> Result<String, HashError> {
        self.run(move |workspace| {
            let _hold = hold;
            workspace.hash_new(&password)
        })
        .await?
    }

    /// Checks `password` against `stored`, or against a dummy hash of the same
    /// cost when there is no stored hash (unknown user).
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        self.verify_holding(password, stored, None).await
    }

    async fn verify_holding(
        &self,
        password: Password,
        stored: Option<String>,
        hold: Option<Arc<Slot>>,
    ) -> Result<Verified, HashError> {
        let (stored, real) = match stored {
            Some(hash) => (hash, true),
            None => (self.dummy().await?.to_owned(), false),
        };
        self.run(move |workspace| {
            let _hold = hold;
            let Some(weaker) = workspace.verify(&password, &stored) else {
                return Ok(Verified::No);
            };
            if !real {
                return Ok(Verified::No);
            }
            if weaker {
                return workspace.hash_new(&password).map(Verified::YesRehashed);
            }
            Ok(Verified::Yes)
        })
        .await?
    }

    /// The hasher as `session` may use it, or `None` while that session
    /// already holds a share: a signed-in caller (a password change) gets one
    /// hash queued or running at a time, so that one stolen session cannot
    /// fill the queue and turn every sign-in away with 503.
    pub fn share(&self, session: SessionId) -> Option<Share> {
        let mut shared = self.inner.shared.lock().unwrap_or_else(|e| e.into_inner());
        if !shared.insert(session) {
            return None;
        }
        Some(Share {
            hasher: self.clone(),
            slot: Arc::new(Slot {
                session,
                shared: self.inner.shared.clone(),
            }),
        })
    }

    /// Computes the dummy hash ahead of the first sign-in for an unknown name,
    /// so that that sign-in is not the one slow answer that gives it away.
    pub async fn warm_up(&self) -> Result<(), HashError> {
        self.dummy().await.map(|_| ())
    }

    async fn dummy(&self) -> Result<&str, HashError> {
        self.inner
            .dummy
            .get_or_try_init(|| async {
                let mut random = [0u8; 32];
                getrandom::fill(&mut random).map_err(|e| HashError::Failed(e.to_string()))?;
                let throwaway = Password::candidate(&String::from_utf8_lossy(&random));
                // In a workspace of its own, freed at once: this hash runs at
                // start, and a proxy that never sees a sign-in should not
                // hold its 19 MiB for it.
                self.run(move |_| Workspace::default().hash_new(&throwaway))
                    .await?
            })
            .await
            .map(String::as_str)
    }

    /// Holds one hashing thread until the returned guard is dropped, once
    /// that thread has started on it. Only tests use it: with every thread
    /// held, what reaches the queue stays there, so a test can see exactly
    /// what a request queued without racing the hash it waits for.
    pub async fn occupy(&self) -> Result<Occupied, HashError> {
        let (release, released) = mpsc::channel::<()>();
        let (started, has_started) = oneshot::channel();
        // Until the job starts, dropping `_unstarted` (with this future)
        // makes the thread skip it as abandoned.
        let _unstarted = self.submit(move |_| {
            let _ = started.send(());
            // Returns when the guard, and with it the sender, is dropped.
            let _ = released.recv();
        })?;
        has_started
            .await
            .map_err(|_| HashError::Failed("a password hashing thread stopped".into()))?;
        Ok(Occupied { _release: release })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Workspace) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        self.submit(work)?
            .await
            .map_err(|_| HashError::Failed("a password hashing thread stopped".into()))
    }

    /// Queues `work` for a hashing thread; the receiver gets its result.
    fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Workspace) -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, HashError> {
        let inner = &self.inner;
        let in_flight = InFlight(inner.in_flight.clone());
        if inner.in_flight.fetch_add(1, Ordering::SeqCst) >= inner.limit {
            return Err(HashError::Overloaded);
        }
        let (reply, answer) = oneshot::channel();
        let completed = inner.completed.clone();
        let job: Job = Box::new(move |workspace| {
            // The caller gave up (the client went away): the slot is worth
            // more to the next one in the queue.
            if reply.is_closed() {
                // What the work holds (a session's share) goes before the
                // slot: whoever sees the queue empty finds it released.
                drop(work);
                drop(in_flight);
                return;
            }
            let result = work(workspace);
            completed.fetch_add(1, Ordering::SeqCst);
            // The slot is free before the caller hears back, so that whoever
            // it tells next finds it free.
            drop(in_flight);
            let _ = reply.send(result);
        });
        inner
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .map_err(|_| HashError::Failed("no password hashing thread is running".into()))?;
        Ok(answer)
    }
}

/// One session's turn at the hasher (see [`PasswordHasher::share`]). The
/// session's slot is free again once the share is dropped and every hash it
/// queued has run or been discarded: a caller that gives up waiting does not
/// free it while its hash still sits in the queue.
#[derive(Debug)]
pub struct Share {
    hasher: PasswordHasher,
    slot: Arc<Slot>,
}

impl Share {
    /// [`PasswordHasher::verify`], on this share.
    pub async fn verify(&self, password: Password, stored: String) -> Result<Verified, HashError> {
        self.hasher
            .verify_holding(password, Some(stored), Some(self.slot.clone()))
            .await
    }

    /// [`PasswordHasher::hash`], on this share.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.hasher
            .hash_holding(password, Some(self.slot.clone()))
            .await
    }
}

/// A session's claim on its share, released when the last holder drops it.
#[derive(Debug)]
struct Slot {
    session: SessionId,
    shared: Arc<Mutex<HashSet<SessionId>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.remove(&self.session);
    }
}

/// A hashing thread held by [`PasswordHasher::occupy`]; dropping it lets the
/// thread go back to work.
#[derive(Debug)]
pub struct Occupied {
    _release: mpsc::Sender<()>,
}

/// Runs jobs until every handle to the hasher is gone.
fn hashing_thread(jobs: &Mutex<mpsc::Receiver<Job>>) {
    lower_priority();
    let mut workspace = Workspace::default();
    loop {
        // Holding the lock only while waiting: the job runs after it is
        // released. The other idle threads wait for the lock meanwhile, so
        // each in turn sees a quiet spell and frees its buffer.
        let next = jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recv_timeout(IDLE_RELEASE);
        let job = match next {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                workspace = Workspace::default();
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        // A panic in argon2 must not take the thread (and its capacity) with
        // it; the caller sees its reply dropped and answers with an error.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut workspace)));
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux the nice value is per thread; this one's only.
    let this_thread = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(this_thread), HASHING_NICENESS) {
        tracing::warn!(error = %e, "password hashing runs at normal priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// A hashing thread's memory, reused from one hash to the next.
#[derive(Default)]
struct Workspace {
    blocks: Vec<Block>,
}

impl Workspace {
    /// argon2 of `password` and `salt` into `out`, in this workspace's blocks.
    fn argon2(
        &mut self,
        argon2: &Argon2<'_>,
        params: &Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let needed = params.block_count();
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block::default());
        }
        let result =
            argon2.hash_password_into_with_memory(password, salt, out, &mut self.blocks[..needed]);
        // A stored hash with more memory than today's parameters grew the
        // buffer; do not keep the extra for the life of the process.
        if needed > MEMORY_KIB as usize {
            self.blocks = Vec::new();
        }
        result
    }

    /// A new PHC string for `password` with today's parameters.
    fn hash_new(&mut self, password: &Password) -> Result<String, HashError> {
        let failed = |e: &dyn std::fmt::Display| HashError::Failed(e.to_string());
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| failed(&e))?;
        let params = current_params();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.argon2(
            &argon2,
            &params,
            password.expose().as_bytes(),
            &salt,
            &mut out,
        )
        .map_err(|e| failed(&e))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| failed(&e))?;
        let phc = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the PHC string `stored`: `None` if not (or
    /// if `stored` is unreadable), else whether the hash should be upgraded.
    fn verify(&mut self, password: &Password, stored: &str) -> Option<bool> {
        let parsed = PasswordHash::new(stored).ok()?;
        let (salt, expected) = (parsed.salt?, parsed.hash?);
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).ok()?;
        if params.m_cost() > MAX_MEMORY_KIB {
            tracing::error!(
                m_cost = params.m_cost(),
                "a stored password hash asks for too much memory"
            );
            return None;
        }
        let mut salt_bytes = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_bytes).ok()?;
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = out.get_mut(..expected.len())?;
        let argon2 = Argon2::new(algorithm, version, params.clone());
        self.argon2(&argon2, &params, password.expose().as_bytes(), salt, out)
            .ok()?;
        // `Output`'s equality is constant-time.
        if Output::new(out).ok()? != expected {
            return None;
        }
        let today = current_params();
        Some(
            params.m_cost() < today.m_cost()
                || params.t_cost() < today.t_cost()
                || algorithm != Algorithm::Argon2id,
        )
    }
}

fn current_params() -> Params {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .unwrap_or_else(|_| unreachable!("constant parameters are within argon2's bounds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(concurrency: usize, queue: usize) -> PasswordHasher {
        PasswordHasher::new(HashingConfig { concurrency, queue })
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let h = hasher(2, 8);
        let stored = h
            .hash(Password::candidate("correct horse"))
            .await
            .expect("hashes");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        let ok = h
            .verify(Password::candidate("correct horse"), Some(stored.clone()))
            .await;
        assert_eq!(ok.expect("verifies"), Verified::Yes);
        let bad = h
            .verify(Password::candidate("wrong horse"), Some(stored))
            .await;
        assert_eq!(bad.expect("verifies"), Verified::No);
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_both_ways() {
        use argon2::PasswordVerifier as _;
        let h = hasher(1, 1);
        // Twice, so the second runs in the reused buffer of the first.
        for password in ["first password", "second password"] {
            let ours = h.hash(Password::candidate(password)).await.expect("hashes");
            let parsed = PasswordHash::new(&ours).expect("parses");
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .expect("the reference implementation accepts our hash");
        }
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let h = hasher(1, 1);
        let r = h.verify(Password::candidate(""), None).await.expect("runs");
        assert_eq!(r, Verified::No);
    }

    #[tokio::test]
    async fn a_hash_with_weaker_parameters_is_upgraded_on_success() {
        use argon2::PasswordHasher as _;
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).expect("valid"),
        );
        let salt = SaltString::encode_b64(b"sixteen byte salt").expect("encodes");
        let stored = weak
            .hash_password(b"pw-pw-pw-pw", &salt)
            .expect("hashes")
            .to_string();
        let h = hasher(1, 1);
        match h
            .verify(Password::candidate("pw-pw-pw-pw"), Some(stored))
            .await
        {
            Ok(Verified::YesRehashed(new)) => assert!(new.contains("m=19456,t=2,p=1")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn past_the_queue_limit_requests_are_shed_not_queued() {
        let h = hasher(1, 0);
        let first = tokio::spawn({
            let h = h.clone();
            async move { h.hash(Password::candidate("aaaaaaaa")).await }
        });
        // Wait until the first hash holds the only slot.
        while h.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        let shed = h.hash(Password::candidate("bbbbbbbb")).await;
        assert!(matches!(shed, Err(HashError::Overloaded)));
        assert!(first.await.expect("joins").is_ok());
        assert_eq!(h.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_session_holds_one_share_until_its_queued_hash_has_run() {
        let h = hasher(1, 8);
        let session = SessionId::random();
        let held = h.occupy().await.expect("occupied");
        let share = h.share(session).expect("a first share");
        assert!(h.share(session).is_none(), "one share per session");
        assert!(
            h.share(SessionId::random()).is_some(),
            "others have their own"
        );
        let queued = tokio::spawn(async move { share.hash(Password::candidate("aaaaaaaa")).await });
        while h.in_flight() < 2 {
            tokio::task::yield_now().await;
        }
        // The caller gives up; its hash is still queued, so the slot stays taken.
        queued.abort();
        let _ = queued.await;
        assert!(h.share(session).is_none(), "the queued hash still holds it");
        drop(held);
        while h.in_flight() > 0 {
            tokio::task::yield_now().await;
        }
        assert!(h.share(session).is_some(), "free once the queue is empty");
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_a_wrong_password_not_a_crash() {
        let h = hasher(1, 1);
        let r = h
            .verify(Password::candidate("x"), Some("not a phc string".into()))
            .await;
        assert_eq!(r.expect("runs"), Verified::No);
    }
}
