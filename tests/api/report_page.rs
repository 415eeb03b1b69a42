//! The HTML report opened in headless Chromium (Debian's `chromium`; `.ci/run`
//! installs it): the charts are drawn, a KPI tile shows the right number, a
//! member's name that is markup shows as text, the browser fetches nothing from
//! the network and logs no console error.
//!
//! Chromium is driven from its command line: `--dump-dom` prints the page after
//! its scripts ran, `--enable-logging=stderr` prints console messages, and
//! `--log-net-log` records every request it made. A control page with a script
//! error and a remote image proves each check can fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use qunbot::clock::Clock;
use qunbot::report::Metric;
use qunbot::reporting::{self, Format, Query, Range};
use regex::Regex;
use serde_json::Value;

use crate::helpers::spawn_app_configured;
use crate::report::{a_busy_day, scripted_admin, COMMUNITY};

fn chromium() -> PathBuf {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| which(name));
    found.unwrap_or_else(|| {
        panic!(
            "the report page test needs Debian's chromium: apt-get install chromium (.ci/run does)"
        )
    })
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// What the browser made of a page.
struct Opened {
    dom: String,
    /// What the page wrote to the console (errors, uncaught exceptions, warnings).
    console: Vec<String>,
    /// Every URL the page asked the network for.
    requests: Vec<String>,
}

fn open_in_chromium(page: &Path) -> Opened {
    let work = tempfile::tempdir().unwrap();
    let net_log = work.path().join("net-log.json");
    let url = format!("file://{}", page.display());
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2400",
            "--virtual-time-budget=10000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.path().join("profile").display()
        ))
        .arg(format!("--log-net-log={}", net_log.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    let requests = page_requests(&std::fs::read_to_string(&net_log).expect("a net log"));
    Opened {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console,
        requests,
    }
}

/// The network requests the page made, from Chromium's net log: jobs started
/// on behalf of a `file://` page. (The browser's own background requests, keyed
/// to no page, are the browser's and are left out.)
fn page_requests(log: &str) -> Vec<String> {
    let log: Value = serde_json::from_str(log)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", log.trim_end().trim_end_matches(','))))
        .expect("the net log is JSON");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    log["events"]
        .as_array()
        .expect("net log events")
        .iter()
        .filter(|e| e["type"] == start_job)
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.contains("file://"))
        })
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .collect()
}

/// The size of the chart's drawing (an SVG inside its box) and how many shapes it holds.
fn drawn(dom: &str, chart: &str) -> (u32, u32, usize) {
    let start = dom
        .find(&format!("id=\"{chart}\""))
        .unwrap_or_else(|| panic!("no {chart} on the page"));
    let rest = &dom[start..];
    let end = rest
        .find("</svg>")
        .unwrap_or_else(|| panic!("{chart} has no SVG"));
    let svg = &rest[..end];
    let size = Regex::new(r#"<svg[^>]*width="(\d+)"[^>]*height="(\d+)""#).unwrap();
    let c = size
        .captures(svg)
        .unwrap_or_else(|| panic!("{chart}'s SVG has no size: {}", &svg[..svg.len().min(400)]));
    let shapes = svg.matches("<path").count() + svg.matches("<rect").count();
    (c[1].parse().unwrap(), c[2].parse().unwrap(), shapes)
}

fn kpi(dom: &str, key: &str) -> String {
    let tile = Regex::new(&format!(
        r#"data-kpi="{key}"><div class="label">[^<]*</div><div class="value">([^<]*)</div>"#
    ))
    .unwrap();
    tile.captures(dom)
        .unwrap_or_else(|| panic!("no {key} tile"))[1]
        .to_string()
}

#[test]
fn the_checks_catch_a_script_error_and_a_remote_request() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("control.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><img src=\"http://127.0.0.1:9/logo.png\">\
         <script>not_a_function();</script></body></html>",
    )
    .unwrap();
    let opened = open_in_chromium(&page);
    assert!(
        opened
            .console
            .iter()
            .any(|l| l.contains("Uncaught ReferenceError")),
        "the script error went unnoticed"
    );
    assert_eq!(opened.requests, ["http://127.0.0.1:9/logo.png"]);
}

#[tokio::test]
async fn the_report_page_draws_its_charts_offline_and_shows_chat_text_as_text() {
    let mut app = spawn_app_configured(COMMUNITY, None).await;
    a_busy_day(&mut app).await;
    let request = Query {
        timezone: chrono_tz::Asia::Shanghai,
        range: Range::Last(7),
        group: None,
        group_names: Default::default(),
        labels: reporting::labels(None),
        rebuild: false,
    };
    let report = reporting::build(app.daemon().store(), &request, app.clock.now(), |_| {})
        .await
        .unwrap();
    let page = app.dir.path().join("qunbot-report.html");
    std::fs::write(&page, reporting::render(&report, Format::Html).unwrap()).unwrap();

    let opened = open_in_chromium(&page);
    assert!(opened.console.is_empty(), "{:#?}", opened.console);
    assert_eq!(opened.requests, Vec::<String>::new());

    for chart in [
        "chart-activity",
        "chart-membership",
        "chart-filter",
        "chart-rewards",
    ] {
        let (width, height, shapes) = drawn(&opened.dom, chart);
        assert!(width > 100 && height > 100, "{chart} is {width}×{height}");
        assert!(shapes > 0, "{chart} has nothing drawn");
    }
    // No post was scheduled: the chart says so rather than drawing zeros.
    assert!(
        opened
            .dom
            .contains(r#"id="chart-posts" data-empty="">数据不足：这段时间没有定时消息"#),
        "the empty posts chart says why"
    );
    // The filter's category by its Chinese name, not its code.
    assert!(
        opened.dom.contains("违规类别：广告 1"),
        "the category's label"
    );
    // Five messages: four from the newcomer, one from the admin.
    assert_eq!(report.totals.counts[Metric::Messages], 5);
    assert_eq!(kpi(&opened.dom, "messages"), "5");
    assert_eq!(kpi(&opened.dom, "filter_hits"), "1");

    let name = scripted_admin().nickname;
    let escaped = name.replace('<', "&lt;").replace('>', "&gt;");
    assert!(
        opened.dom.contains(&escaped),
        "the admin's name is shown as text"
    );
    assert!(
        !opened.dom.contains(&name),
        "the admin's name became markup"
    );
}

/// How the page lays out at a width, measured by a script in the page: the
/// page is opened in an iframe that wide (Chromium's headless window is never
/// narrower than 500 px) and taller than the page (a phone's scroll bar takes
/// no width), and tells its parent what it measured.
#[derive(Debug, serde::Deserialize)]
struct Layout {
    width: f64,
    scroll_width: f64,
    /// Elements reaching past the right edge (at most a few, for the message).
    wide: Vec<String>,
    /// How the groups' table header shows (`none` when the rows are cards).
    table_head: String,
    /// The right edge of each chart.
    charts: Vec<f64>,
}

const MEASURE: &str = r#"<script>
window.addEventListener('load', function () {
  var w = document.documentElement.clientWidth;
  var wide = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 1 && wide.length < 5) {
      var cls = typeof el.className === 'string' ? '.' + el.className : '';
      wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + cls + ' ' + Math.round(r.right));
    }
  });
  parent.postMessage(JSON.stringify({
    width: w,
    scroll_width: document.documentElement.scrollWidth,
    wide: wide,
    table_head: getComputedStyle(document.querySelector('#groups thead')).display,
    charts: Array.from(document.querySelectorAll('.card > .chart, .card > .no-data'))
      .map(function (el) { return el.getBoundingClientRect().right; })
  }), '*');
});
</script>"#;

fn layout_at(page: &Path, width: u32) -> Layout {
    let dir = page.parent().unwrap();
    let html = std::fs::read_to_string(page).unwrap();
    // The page's own closing tag: the last one (the inlined ECharts has one in a string).
    let (head, tail) = html.rsplit_once("</body>").expect("a page");
    let measured = format!("{head}{MEASURE}</body>{tail}");
    std::fs::write(dir.join("measured.html"), measured).unwrap();
    let frame = dir.join(format!("at-{width}.html"));
    std::fs::write(
        &frame,
        format!(
            "<!DOCTYPE html><html><body style=\"margin:0\">\
             <iframe src=\"measured.html\" style=\"width:{width}px;height:12000px;border:0\"></iframe>\
             <script>window.addEventListener('message', function (e) {{\
               document.body.setAttribute('data-layout', e.data); }});</script></body></html>"
        ),
    )
    .unwrap();
    let opened = open_in_chromium(&frame);
    assert!(opened.console.is_empty(), "{:#?}", opened.console);
    let found = Regex::new(r#"data-layout="([^"]*)""#)
        .unwrap()
        .captures(&opened.dom)
        .unwrap_or_else(|| panic!("the page measured nothing at {width} px: {}", opened.dom))[1]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&found).expect("the measurement is JSON")
}

#[tokio::test]
async fn the_report_reads_on_a_phone_and_on_a_desktop_without_sideways_scrolling() {
    let mut app = spawn_app_configured(COMMUNITY, None).await;
    a_busy_day(&mut app).await;
    let request = Query {
        timezone: chrono_tz::Asia::Shanghai,
        range: Range::Last(7),
        group: None,
        // A name with no place to break is the widest thing a page can hold.
        group_names: [(
            "123456".to_string(),
            "福利群_averyveryverylonggroupnamewithoutanyplacetobreakit_上海浦东新区分群"
                .to_string(),
        )]
        .into(),
        labels: reporting::labels(None),
        rebuild: false,
    };
    let report = reporting::build(app.daemon().store(), &request, app.clock.now(), |_| {})
        .await
        .unwrap();
    let page = app.dir.path().join("qunbot-report.html");
    std::fs::write(&page, reporting::render(&report, Format::Html).unwrap()).unwrap();

    let phone = layout_at(&page, 390);
    assert_eq!(phone.width, 390.0);
    assert!(
        phone.scroll_width <= phone.width && phone.wide.is_empty(),
        "sideways scrolling at 390 px: {phone:?}"
    );
    assert_eq!(
        phone.table_head, "none",
        "the table's rows are cards on a phone"
    );
    assert!(!phone.charts.is_empty());
    assert!(phone.charts.iter().all(|right| *right <= phone.width));

    let desktop = layout_at(&page, 1280);
    assert!(
        desktop.scroll_width <= desktop.width,
        "sideways scrolling at 1280 px: {desktop:?}"
    );
    assert_ne!(desktop.table_head, "none", "a table on a desktop");
    // Two charts side by side: some chart ends left of the middle.
    assert!(
        desktop
            .charts
            .iter()
            .any(|right| *right < desktop.width / 2.0 + 20.0),
        "{desktop:?}"
    );
}
