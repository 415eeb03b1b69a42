//! One way to start the simulator and the daemon for a test, and to look at what happened.

use qunbot::store::ReadModel;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use qunbot::clock::SkippingClock;
use qunbot::config::{Config, Env};
use qunbot::engine::{NextTimer, StateStore};
use qunbot::simulator::events::{id_text, EventFactory, VirtualMember};
use qunbot::simulator::{RecordedCall, Simulator, SimulatorOptions};
use qunbot::startup::Daemon;
use qunbot::store::{LoggedEvent, Store};
use serde_json::{json, Value};

pub const TOKEN: &str = "test-access-token";
pub const SECRET: &str = "test-secret";
/// How long a test waits for something that should happen within milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The word list `words.txt` beside the config, for tests that configure `[filter]`.
pub const WORDS: &str =
    "[ad]\n加群\n加v888\n卖号\nweixin\n微信号\n[abuse]\n傻逼\n[fraud]\n办假证\n[allow]\n参加群众\n";

/// The config every test starts from: fast pacing and retries, two managed groups.
pub const TEST_CONFIG: &str = r#"
[gateway]
access_token = "${QUNBOT_ACCESS_TOKEN}"
secret = "${QUNBOT_SECRET}"
timeout = "2s"

[outbox]
group_interval = "20ms"
account_interval = "5ms"
retry_initial = "200ms"
retry_max = "1s"
# Tests post in bursts (fifty newcomers at once); the cap has its own tests.
group_messages_per_minute = 1000

[commands]
cooldown = "0s"

[[groups]]
id = 123456
name = "测试群"

[[groups]]
id = "35214638@chatroom"
name = "微信群"
"#;

/// Saves the way editors do: write a new file beside it, rename it over the old one.
pub fn save_like_an_editor(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The member whose `/ping` is a barrier (see [`TestApp::barrier`]); no test
/// gives it any other part.
pub fn barrier_member() -> VirtualMember {
    VirtualMember::new(29999, "屏障", "member")
}

pub fn loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

pub struct TestApp {
    /// The gateway: serves the API the daemon calls, and pushes events.
    pub sim: Simulator,
    /// The daemon's clock: the wall clock, which [`TestApp::skip`] moves ahead.
    pub clock: Arc<SkippingClock>,
    pub daemon: Option<Daemon>,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub env: Env,
    pub events: EventFactory,
    pub group: Value,
    pub wechat_group: Value,
    pub member: VirtualMember,
    pub wechat_member: VirtualMember,
}

/// Starts the simulator, then the daemon pointed at it.
pub async fn spawn_app() -> TestApp {
    spawn_app_configured("", None).await
}

/// As [`spawn_app`], but the daemon calls the gateway API at `api_url` instead of
/// the simulator's (to test a gateway that is not there yet).
pub async fn spawn_app_with_api(api_url: Option<String>) -> TestApp {
    spawn_app_configured("", api_url).await
}

/// As [`spawn_app`], with `extra` TOML after the test config. A coupon pool file
/// `coupons.txt` with codes C-01..C-40 sits beside the config.
pub async fn spawn_app_configured(extra: &str, api_url: Option<String>) -> TestApp {
    spawn_app_from(&format!("{TEST_CONFIG}\n{extra}"), api_url).await
}

/// As [`spawn_app`], with `settings` (TOML lines) added to the test config's `[gateway]`.
pub async fn spawn_app_with_gateway(settings: &str) -> TestApp {
    let anchor = "timeout = \"2s\"\n";
    assert!(TEST_CONFIG.contains(anchor));
    let config = TEST_CONFIG.replacen(anchor, &format!("{anchor}{settings}\n"), 1);
    spawn_app_from(&config, None).await
}

/// As [`spawn_app`], with a config of its own: [`TEST_CONFIG`] edited, say.
pub async fn spawn_app_with_config(config: &str) -> TestApp {
    spawn_app_from(config, None).await
}

async fn spawn_app_from(config: &str, api_url: Option<String>) -> TestApp {
    let sim = Simulator::start(loopback(), SimulatorOptions::new(TOKEN, SECRET))
        .await
        .expect("the simulator starts");
    // The bot account is in the groups it manages, as `get_group_list` says.
    sim.join_group(123456, "测试群");
    sim.join_group("35214638@chatroom", "微信群");
    let dir = tempfile::tempdir().expect("a temp dir");
    let config_path = dir.path().join("bot-config.toml");
    std::fs::write(&config_path, config).expect("config written");
    let codes: Vec<String> = (1..=40).map(|i| format!("C-{i:02}")).collect();
    std::fs::write(dir.path().join("coupons.txt"), codes.join("\n")).expect("coupons written");
    std::fs::write(dir.path().join("words.txt"), WORDS).expect("word list written");
    let mut env = sim.daemon_env(&dir.path().join("qunbot.db"));
    if let Some(api_url) = api_url {
        env = env.with("QUNBOT_GATEWAY_API_URL", api_url);
    }
    let mut app = TestApp {
        sim,
        clock: Arc::new(SkippingClock::default()),
        daemon: None,
        dir,
        config_path,
        env,
        events: EventFactory::new(10001000),
        group: json!(123456),
        wechat_group: json!("35214638@chatroom"),
        member: VirtualMember::new(20001, "小红", "member"),
        wechat_member: VirtualMember::new("wxid_ahua", "阿花", "member"),
    };
    app.start_daemon().await;
    app
}

impl TestApp {
    pub async fn start_daemon(&mut self) {
        assert!(self.daemon.is_none(), "the daemon is already running");
        let config = Config::load(&self.config_path, &self.env).expect("the test config is valid");
        let daemon = Daemon::start_with_clock(config, self.env.clone(), self.clock.clone())
            .await
            .expect("the daemon starts");
        self.sim
            .set_webhook(format!("http://{}/onebot", daemon.addr()));
        self.daemon = Some(daemon);
    }

    /// Stops the daemon the way SIGTERM does.
    pub async fn stop_daemon(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            daemon.stop().await;
        }
    }

    /// Stops the daemon as a SIGKILL would: nothing drained (see [`Daemon::crash`]).
    pub fn crash_daemon(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            daemon.crash();
        }
    }

    pub async fn restart_daemon(&mut self) {
        self.stop_daemon().await;
        self.start_daemon().await;
    }

    /// Waits (bounded) until every logged event is handled: after a start, the
    /// account sync logs an event of its own, handled in its turn.
    /// Waits (bounded) until the account sync's first answer is logged and
    /// acted on: from then on the daemon knows which account is in which group.
    pub async fn wait_synced(&self) {
        self.wait_logged("sync.account", 1).await;
        self.wait_all_handled().await;
    }

    pub async fn wait_all_handled(&self) {
        eventually("every logged event is handled", || async {
            self.daemon().store().unhandled_count().await.unwrap() == 0
        })
        .await;
    }

    /// Moves the daemon's clock ahead by `by` and makes it look at once: for
    /// what happens at a time of day (schedules), without waiting for it.
    pub fn skip(&self, by: chrono::Duration) {
        self.clock.skip(by);
        self.daemon().look_at_the_clock();
    }

    pub fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().expect("the daemon is running")
    }

    pub fn webhook_url(&self) -> String {
        format!("http://{}/onebot", self.daemon().addr())
    }

    /// The daemon's reverse WebSocket (role Universal).
    pub fn ws_url(&self) -> String {
        format!("ws://{}/onebot/ws", self.daemon().addr())
    }

    /// A second bridge, logged in as `self_id` and in `groups`, that dials the
    /// daemon's reverse WebSocket (as NapCat does) and pushes over it.
    pub async fn ws_bridge(&self, self_id: Value, groups: &[(Value, &str)]) -> Simulator {
        let bridge = Simulator::start(
            loopback(),
            SimulatorOptions::new(TOKEN, SECRET).as_account(self_id),
        )
        .await
        .expect("the bridge starts");
        for (group, name) in groups {
            bridge.join_group(group.clone(), name);
        }
        bridge
            .dial_daemon(&self.ws_url())
            .await
            .expect("the daemon takes the bridge's WebSocket");
        bridge
    }

    /// Pushes a signed event and returns the daemon's HTTP status.
    pub async fn push(&self, event: &Value) -> u16 {
        self.sim.push(event).await.expect("the daemon answers")
    }

    /// Pushes a group message from `member` in the numeric group.
    pub async fn member_says(&mut self, member: &VirtualMember, text: &str) -> Value {
        let event = self.events.group_message(&self.group, member, json!(text));
        assert_eq!(self.push(&event).await, 204);
        event
    }

    /// Pushes an image message from `member` whose picture is served at `url`.
    pub async fn member_posts_image(&mut self, member: &VirtualMember, url: &str) -> Value {
        let message = json!([{"type": "image", "data": {"file": "pic.png", "url": url}}]);
        let event = self.events.group_message(&self.group, member, message);
        assert_eq!(self.push(&event).await, 204);
        event
    }

    /// Pushes `member` joining the numeric group.
    pub async fn member_joins(&mut self, member: &VirtualMember) {
        let event = self.events.joined(&self.group, member, None);
        assert_eq!(self.push(&event).await, 204);
    }

    /// The texts of every group message the simulator carried out so far.
    pub fn chat(&self) -> Vec<String> {
        self.sim
            .performed("send_group_msg")
            .iter()
            .map(|c| text_of(&c.params["message"]))
            .collect()
    }

    /// Waits (bounded) until a carried-out group message contains `needle`; returns all texts.
    pub async fn wait_chat(&self, needle: &str) -> Vec<String> {
        self.wait_chat_n(needle, 1).await
    }

    /// Waits (bounded) until `n` carried-out group messages contain `needle`,
    /// and fails the test if they do not in time. Returns the whole chat.
    pub async fn wait_chat_n(&self, needle: &str, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let chat = self.chat();
            let found = chat.iter().filter(|t| t.contains(needle)).count();
            if found >= n {
                return chat;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{found} of {n} chat messages contain {needle:?}: {chat:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A group message from the test member in the numeric group.
    pub fn says(&mut self, text: &str) -> Value {
        let (group, member) = (self.group.clone(), self.member.clone());
        self.events.group_message(&group, &member, json!(text))
    }

    pub async fn logged(&self, kind: &str) -> Vec<LoggedEvent> {
        self.daemon()
            .store()
            .events_of_kind(kind)
            .await
            .expect("the log is readable")
    }

    /// Waits (bounded) until at least `n` events of `kind` are logged, and fails
    /// the test if they are not in time.
    pub async fn wait_logged(&self, kind: &str, n: usize) -> Vec<LoggedEvent> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let rows = self.logged(kind).await;
            if rows.len() >= n {
                return rows;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} {kind} events logged in time",
                rows.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (bounded) for a refused reload and returns its first problem line.
    pub async fn first_rejection(&self) -> String {
        let rejected = self.wait_logged("config.rejected", 1).await;
        assert_eq!(rejected.len(), 1, "the edit was noticed and refused");
        rejected[0].detail["problems"][0]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Pushes a `/ping` from [`barrier_member`] in `group` and waits (bounded) until
    /// the simulator carried out its pong and the daemon logged the outcome;
    /// returns that pong.
    ///
    /// The engine acts on events in the order they were logged, and the outbox
    /// carries out a group's actions in the order they were queued, one call at a
    /// time, logging each outcome before the next call. So once the barrier's pong
    /// is out and logged, whatever the events pushed before it caused in `group`
    /// is out and logged too: what has not happened by then is not going to
    /// (short of a timer: see [`TestApp::next_wake_up`]).
    pub async fn barrier(&mut self, group: &Value) -> RecordedCall {
        let ping = self.barrier_ping(group);
        self.pass_barrier(&self.sim, &ping).await
    }

    /// As [`TestApp::barrier`], for a daemon whose gateway is `gateway`, not the
    /// simulator the events come from.
    pub async fn barrier_through(&mut self, gateway: &Simulator, group: &Value) -> RecordedCall {
        let ping = self.barrier_ping(group);
        self.pass_barrier(gateway, &ping).await
    }

    fn barrier_ping(&mut self, group: &Value) -> Value {
        self.events
            .group_message(group, &barrier_member(), json!("/ping"))
    }

    async fn pass_barrier(&self, gateway: &Simulator, ping: &Value) -> RecordedCall {
        assert_eq!(self.push(ping).await, 204, "the barrier is accepted");
        wait_reply_logged(self.daemon().store(), ping, PATIENCE).await;
        reply_to(gateway, ping).expect("the logged pong was carried out by this gateway")
    }

    /// Waits (bounded) until the simulator carried out a group message quoting
    /// `message` (a pushed group message event), and returns it.
    pub async fn wait_reply_to(&self, message: &Value) -> RecordedCall {
        eventually(&format!("a reply to {message}"), || async {
            reply_to(&self.sim, message).is_some()
        })
        .await;
        reply_to(&self.sim, message).expect("the reply stays recorded")
    }

    /// Passes a [`TestApp::barrier`] in `group` and returns the group messages the
    /// simulator carried out before the barrier's pong: all there will be.
    pub async fn messages_before_a_barrier(&mut self, group: &Value) -> Vec<RecordedCall> {
        let barrier = self.barrier(group).await;
        carried_out_before(&self.sim, "send_group_msg", &barrier)
    }

    /// When the daemon next acts on its own (a welcome window closing, a reminder,
    /// a verification deadline), if ever: what a barrier cannot wait out.
    pub async fn next_wake_up(&self) -> Option<DateTime<Utc>> {
        match self.daemon().store().next_timer().await {
            Ok(NextTimer::None) => None,
            Ok(NextTimer::At(at)) => Some(at),
            other => panic!("the timers are readable: {other:?}"),
        }
    }
}

/// Waits (at most `patience`) until the outcome of a reply quoting `ping` is
/// logged in `store`. The outcome is logged after the call, so once it is, the
/// call is recorded by the gateway.
pub async fn wait_reply_logged(store: &Store, ping: &Value, patience: Duration) {
    let id = id_text(&ping["message_id"]);
    eventually_within(
        "the barrier's pong carried out and logged",
        patience,
        || async {
            store
                .events_of_kind("action.send_group_msg")
                .await
                .expect("the log is readable")
                .iter()
                .any(|row| id_text(&row.detail["action"]["message"][0]["id"]) == id)
        },
    )
    .await;
}

/// Waits (polling, at most [`PATIENCE`]) until `done` comes true, and fails the
/// test naming `what` if it does not in time.
pub async fn eventually<F, Fut>(what: &str, done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_within(what, PATIENCE, done).await;
}

/// As [`eventually`], for what takes longer by nature (thousands of actions
/// to carry out): at most `patience`.
pub async fn eventually_within<F, Fut>(what: &str, patience: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + patience;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The last group message `gateway` carried out (or refused) that quotes `message`.
pub fn reply_to(gateway: &Simulator, message: &Value) -> Option<RecordedCall> {
    let id = id_text(&message["message_id"]);
    gateway.performed("send_group_msg").into_iter().rfind(|c| {
        let quoted = &c.params["message"][0];
        quoted["type"] == "reply" && id_text(&quoted["data"]["id"]) == id
    })
}

/// The calls of `action` that `gateway` carried out before `barrier`.
pub fn carried_out_before(
    gateway: &Simulator,
    action: &str,
    barrier: &RecordedCall,
) -> Vec<RecordedCall> {
    gateway
        .performed(action)
        .into_iter()
        .filter(|c| c.seq < barrier.seq)
        .collect()
}

/// The text of an outgoing message's segments.
pub fn text_of(message: &Value) -> String {
    message
        .as_array()
        .map(|segments| {
            segments
                .iter()
                .filter(|s| s["type"] == "text")
                .filter_map(|s| s["data"]["text"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// The ids a carried-out message @mentions.
pub fn mentions_of(message: &Value) -> Vec<String> {
    message
        .as_array()
        .map(|segments| {
            segments
                .iter()
                .filter(|s| s["type"] == "at")
                .filter_map(|s| s["data"]["qq"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The daemon binary, run as an operator runs it, killed as the kernel kills.
pub struct DaemonProcess {
    pub child: Child,
    port: u16,
}

impl DaemonProcess {
    /// Starts `qunbot run` on `config` with `database`, on a free port, with
    /// the simulator as its gateway; waits (bounded) until it is healthy and
    /// points the simulator's pushes at it.
    pub async fn start(app: &TestApp, config: &Path, database: &Path) -> DaemonProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_qunbot"))
            .args(["--log-format", "json", "run", "--config"])
            .arg(config)
            .env("QUNBOT_GATEWAY_API_URL", app.sim.api_url())
            .env("QUNBOT_LISTEN", format!("127.0.0.1:{port}"))
            .env("QUNBOT_DATABASE", database)
            .env("QUNBOT_ACCESS_TOKEN", TOKEN)
            .env("QUNBOT_SECRET", SECRET)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let daemon = DaemonProcess { child, port };
        let health = format!("http://127.0.0.1:{port}/healthz");
        eventually("the daemon binary is healthy", || async {
            reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        app.sim
            .set_webhook(format!("http://127.0.0.1:{}/onebot", daemon.port));
        daemon
    }

    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name}");
    }

    /// SIGKILL: nothing drained, nothing flushed.
    pub fn kill(&mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }

    /// SIGTERM, and waits (bounded) for a clean exit.
    pub async fn stop(mut self) {
        self.signal("TERM");
        let mut status = None;
        eventually("the daemon stopped on SIGTERM", || {
            status = self.child.try_wait().unwrap();
            std::future::ready(status.is_some())
        })
        .await;
        assert_eq!(status.and_then(|s| s.code()), Some(0));
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
